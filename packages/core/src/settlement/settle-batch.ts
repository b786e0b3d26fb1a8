import type { Ctx } from "../context.ts";
import type { CommitmentRow } from "../db/schema.ts";
import { enqueue } from "../outbox/enqueue.ts";
import { enqueueCommitmentEventsOf } from "../webhooks/events.ts";
import type { Verdict } from "./decide.ts";
import { type Gathered, gather, groupBy, type History, type Run } from "./evidence.ts";
import { inputsOf, judge, type Settled, toWrite } from "./judge.ts";
import { settledNudge } from "./nudge.ts";
import { claimDue, type Key, type SettlementWrite, writeResolved, writeSettlements } from "./queries.ts";
import type { SettlementRunSummary } from "./settle-due-commitments.ts";
import { isoWeekOf } from "./streak.ts";

/** Claim, gather, judge (each member's rows in window order) and write one batch of due rows. */
export async function settleBatch(
  tx: Ctx,
  run: Run,
  after: Key | null,
  limit: number,
  summary: SettlementRunSummary,
) {
  const rows = await claimDue(tx, run.now, after, limit);
  if (rows.length === 0) return null;
  summary.claimed += rows.length;
  const { gathered, history } = await gather(tx, run, rows);
  const writes: SettlementWrite[] = [];
  const resolved: { id: string; communityId: string | null; deviceId: string | null }[] = [];
  const earlier: Settled[] = [];
  for (const row of inWindowOrder(rows)) {
    const found = gathered.get(row.id);
    const verdict = judge(run, row, found, history, earlier);
    const ids = idsOf(row, found);
    if (!verdict) {
      summary.waiting++;
      if (found?.kind === "failed") summary.failed++;
      if (ids.communityId !== row.communityId || ids.deviceId !== row.deviceId)
        resolved.push({ id: row.id, ...ids });
      continue;
    }
    writes.push(toWrite(run, row, ids, verdict, 1, inputsOf(run, row, found)));
    remember(run, history, row, verdict, earlier);
    summary.settled[verdict.outcome] = (summary.settled[verdict.outcome] ?? 0) + 1;
    tx.metrics.inc("flexibility_settlements_total", { outcome: verdict.outcome });
  }
  await writeSettlements(tx, writes, run.now);
  await writeResolved(tx, resolved);
  const byId = new Map(rows.map((r) => [r.id, r]));
  await enqueue(
    tx,
    writes.flatMap((w) => {
      const row = byId.get(w.id);
      return row ? [settledNudge(w, row, run)] : [];
    }),
  );
  await enqueueCommitmentEventsOf(
    tx,
    "commitment.settled",
    writes.map((w) => w.id),
  );
  return keyOf(rows);
}

/** Each member's rows in window order, so what an earlier one settles counts for the later ones. */
function inWindowOrder(rows: CommitmentRow[]): CommitmentRow[] {
  const sorted = [...rows].sort(
    (a, b) =>
      a.periodStart.getTime() - b.periodStart.getTime() ||
      a.periodEnd.getTime() - b.periodEnd.getTime() ||
      (a.id < b.id ? -1 : 1),
  );
  return [...groupBy(sorted, (r) => r.userId).values()].flat();
}

/** A settled row's outcome joins its member's week; a qualifying one counts toward their later caps. */
function remember(run: Run, history: History, row: CommitmentRow, verdict: Verdict, earlier: Settled[]) {
  const weeks = history.weeks.get(row.userId) ?? new Map<string, string[]>();
  const monday = isoWeekOf(run.clock.local(row.periodStart).date);
  weeks.set(monday, [...(weeks.get(monday) ?? []), verdict.outcome]);
  history.weeks.set(row.userId, weeks);
  if (verdict.outcome === "delivered" && verdict.raw !== null) {
    earlier.push({ userId: row.userId, start: row.periodStart.getTime(), raw: verdict.raw });
  }
}

export function idsOf(row: CommitmentRow, found: Gathered | undefined) {
  const ids = found && found.kind !== "failed" ? found.ids : found?.ids;
  return { communityId: ids?.communityId ?? row.communityId, deviceId: ids?.deviceId ?? row.deviceId };
}

export function keyOf(rows: CommitmentRow[]): Key | null {
  const last = rows[rows.length - 1];
  return last ? { end: last.periodEnd, id: last.id } : null;
}
