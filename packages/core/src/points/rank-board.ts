import { roundHalfUp } from "../rounding.ts";

// The leaderboard's arithmetic: competition ranking (equal points share a rank and the next rank
// skips: 1, 1, 3) and a percentile rank, over members who have not hidden themselves.

export type Standing = { userId: string; points: number };

export type RankedBoard = {
  entries: { rank: number; points: number; is_me: boolean }[];
  /** Null when `me` is not on the board (hidden). */
  me: { rank: number; percentile: number } | null;
};

export function rankBoard(standings: Standing[], me: string, top = 10): RankedBoard {
  // Among equals the caller is listed first, so a tie at the cut-off never hides them.
  const sorted = [...standings].sort(
    (a, b) =>
      b.points - a.points ||
      Number(b.userId === me) - Number(a.userId === me) ||
      (a.userId < b.userId ? -1 : a.userId > b.userId ? 1 : 0),
  );
  const ranks: number[] = [];
  sorted.forEach((s, i) => {
    const previous = sorted[i - 1];
    ranks.push(previous && previous.points === s.points ? (ranks[i - 1] ?? i + 1) : i + 1);
  });
  const entries = sorted
    .slice(0, top)
    .map((s, i) => ({ rank: ranks[i] ?? i + 1, points: s.points, is_me: s.userId === me }));
  const mine = sorted.findIndex((s) => s.userId === me);
  const self = sorted[mine];
  if (!self) return { entries, me: null };
  return { entries, me: { rank: ranks[mine] ?? mine + 1, percentile: percentileRank(sorted, self.points) } };
}

/** 100 × (members below + half of those level, the caller included) ÷ members, rounded half up. */
export function percentileRank(standings: Standing[], points: number): number {
  const below = standings.filter((s) => s.points < points).length;
  const level = standings.filter((s) => s.points === points).length;
  return roundHalfUp((100 * (below + level / 2)) / standings.length);
}
