import type { Ctx } from "../context.ts";
import { enqueueCommitmentEventsOf } from "../webhooks/events.ts";
import { gather, type Run } from "./evidence.ts";
import { canonical, differs, inputsOf, judge, toWrite } from "./judge.ts";
import { claimRestatable, type Key, type SettlementWrite, touchInputs, writeSettlements } from "./queries.ts";
import { idsOf, keyOf } from "./settle-batch.ts";
import type { SettlementRunSummary } from "./settle-due-commitments.ts";

/** Re-judge recent settlements with fresh readings; a changed result is a new revision and a ledger delta. */
export async function restateBatch(
  tx: Ctx,
  run: Run,
  after: Key | null,
  limit: number,
  summary: SettlementRunSummary,
) {
  const claimed = await claimRestatable(tx, run.now, run.horizonMs, after, limit);
  if (claimed.length === 0) return null;
  const rows = claimed.map((c) => c.row);
  const { gathered, history } = await gather(tx, run, rows);
  const config = canonical(run.config);
  const writes: SettlementWrite[] = [];
  const touched: { id: string; revision: number; inputs: string }[] = [];
  for (const { row, stored, inputs } of claimed) {
    // Settled under another configuration: a restatement re-reads inputs, it does not re-price.
    if (canonical(stored.config) !== config) continue;
    const found = gathered.get(row.id);
    const fresh = inputsOf(run, row, found);
    if (fresh === null || fresh === inputs) continue;
    const given =
      stored.streak && stored.cap && stored.multipliers
        ? {
            streak: {
              level: stored.streak.level,
              peak: stored.streak.best,
              multiplier: stored.multipliers.streak,
              week: stored.streak.week,
            },
            cap: stored.cap,
          }
        : {};
    const verdict = judge(run, row, found, history, [], given);
    if (!verdict || verdict.outcome === "no_data" || verdict.outcome === "no_device") continue;
    if (differs(stored, verdict)) {
      writes.push(toWrite(run, row, idsOf(row, found), verdict, row.settlementRevision + 1, fresh));
    } else {
      touched.push({ id: row.id, revision: row.settlementRevision, inputs: fresh });
    }
  }
  await touchInputs(tx, touched);
  await writeSettlements(tx, writes, run.now);
  await enqueueCommitmentEventsOf(
    tx,
    "commitment.restated",
    writes.map((w) => w.id),
  );
  summary.restated += writes.length;
  for (const w of writes) tx.metrics.inc("flexibility_restatements_total", { outcome: w.outcome });
  return keyOf(rows);
}
