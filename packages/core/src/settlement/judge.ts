import type { CommitmentRow } from "../db/schema.ts";
import type { StoredSettlement } from "../schemas/settlement.ts";
import { closeWithout, decide, type Evidence, inputsDigest, type Verdict } from "./decide.ts";
import {
  commitmentOf,
  type Gathered,
  type History,
  heldAtOf,
  isPermanent,
  type Run,
  weekMarks,
} from "./evidence.ts";
import { formatKwh } from "./kwh.ts";
import { type Cap, capOf } from "./points.ts";
import type { SettlementWrite } from "./queries.ts";
import { isoWeekOf, type Streak, streakBefore } from "./streak.ts";

// From a row's gathered evidence to a verdict (or null: it waits for the next run), and from a
// verdict to what is written. The judging itself is decide()'s; this is the glue around it.

const DAY_MS = 86_400_000;

/** A qualifying window settled earlier in this batch: it counts toward the member's later caps. */
export type Settled = { userId: string; start: number; raw: number };

export type Given = { streak?: Streak & { week: string }; cap?: Cap };

export function judge(
  run: Run,
  row: CommitmentRow,
  found: Gathered | undefined,
  history: History,
  earlier: Settled[],
  given: Given = {},
): Verdict | null {
  const overdue = run.now.getTime() >= row.periodEnd.getTime() + run.deadlineMs;
  const commitment = commitmentOf(row);
  if (!found) return null;
  switch (found.kind) {
    case "failed":
      // An outage never closes a row; an answer that will never change (4xx) does, at the deadline.
      return overdue && isPermanent(found.error)
        ? closeWithout("no_data", "the Digital Twin refused to give the readings", commitment, run)
        : null;
    case "no_device":
      return overdue ? closeWithout("no_device", "the member has no metering device", commitment, run) : null;
    case "no_community":
      return overdue ? closeWithout("no_data", "the member is in no community", commitment, run) : null;
  }
  if (found.forecast === "failed" && !overdue) return null;
  const week = isoWeekOf(run.clock.local(row.periodStart).date);
  const evidence: Evidence = {
    commitment,
    overdue,
    readingAt: found.readingAt,
    heldAt: heldAtOf(history.held.get(row.userId) ?? [], row.id),
    forecast: found.forecast === "failed" ? null : found.forecast,
    streak: given.streak ?? {
      ...streakBefore(weekMarks(history.weeks.get(row.userId)), week, run.method.streak),
      week,
    },
    cap: given.cap ?? capOf(withEarlier(run, history, row, earlier), run.method.cap),
  };
  const decision = decide(evidence, run);
  return decision.kind === "close" ? decision.verdict : null;
}

/** The cap's references with the qualifying windows this batch settled before the row. */
function withEarlier(run: Run, history: History, row: CommitmentRow, earlier: Settled[]) {
  const refs = history.caps.get(row.id) ?? {
    own: { windows: 0, meanRaw: null },
    community: { windows: 0, medianRaw: null },
  };
  const start = row.periodStart.getTime();
  const from = start - run.method.cap.lookbackDays * DAY_MS;
  const extra = earlier.filter((e) => e.userId === row.userId && e.start >= from && e.start < start);
  if (extra.length === 0) return refs;
  const windows = refs.own.windows + extra.length;
  const sum = (refs.own.meanRaw ?? 0) * refs.own.windows + extra.reduce((s, e) => s + e.raw, 0);
  return { ...refs, own: { windows, meanRaw: sum / windows } };
}

/** The digest of what the row was judged on (null when it was not judged on readings). */
export function inputsOf(run: Run, row: CommitmentRow, found: Gathered | undefined): string | null {
  if (found?.kind !== "ready") return null;
  return inputsDigest(
    commitmentOf(row),
    found.readingAt,
    found.forecast === "failed" ? null : found.forecast,
    run,
  );
}

/** What a verdict writes: the commitment's columns, its ledger entry and the stored explanation. */
export function toWrite(
  run: Run,
  row: CommitmentRow,
  ids: { communityId: string | null; deviceId: string | null },
  verdict: Verdict,
  revision: number,
  inputs: string | null,
): SettlementWrite {
  const { actualMicroKwh, adjustedMicroKwh, shiftedMicroKwh, selectedDays, streakMultiplier, ...stored } =
    verdict;
  const kwh = (micro: number | null) => (micro === null ? null : formatKwh(micro));
  return {
    id: row.id,
    userId: row.userId,
    communityId: ids.communityId,
    deviceId: ids.deviceId,
    revision,
    kind: revision === 1 ? "settlement" : "restatement",
    outcome: verdict.outcome,
    points: verdict.points,
    delta: verdict.points - (revision === 1 ? 0 : (row.rewardPointsActual ?? 0)),
    raw: verdict.raw,
    actualKwh: kwh(actualMicroKwh),
    baselineKwh: kwh(adjustedMicroKwh),
    baselineDays: selectedDays,
    deliveredKwh: kwh(shiftedMicroKwh),
    pointsPerKwh: run.method.points.ratePerKwh,
    bonusPct: streakMultiplier === null ? null : Math.round((streakMultiplier - 1) * 100),
    stored: { ...stored, revision, settled_at: run.now.toISOString() },
    inputs,
  };
}

/** Whether a new verdict says something other than what was stored (key order and revision aside). */
export function differs(stored: StoredSettlement, verdict: Verdict): boolean {
  const { actualMicroKwh, adjustedMicroKwh, shiftedMicroKwh, selectedDays, streakMultiplier, ...fresh } =
    verdict;
  const { revision, settled_at, ...before } = stored;
  return canonical(before) !== canonical(fresh);
}

/** JSON with object keys sorted at every level (jsonb does not keep key order). */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}
