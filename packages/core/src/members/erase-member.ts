import { eq, sql } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { rowsOf } from "../db/rows.ts";
import {
  calendarTokens,
  commitments,
  meterChunks,
  offers,
  outbox,
  pointsLedger,
  preferences,
  settlements,
  webhooks,
} from "../db/schema.ts";
import { committedTopic } from "../outbox/commitment-entries.ts";
import { type MemberErasure, MemberIdParam } from "../schemas/members.ts";
import { parseInput } from "../validate.ts";

/**
 * Erase everything this service holds about one member, in one transaction: their commitments (any
 * status) with the settlements and ledger entries behind their points, their stored meter readings,
 * the windows offered to them, their preferences, their calendar feed's secret (its URL stops
 * working), their webhook subscriptions, and every outbox entry about them (pending or past: webhook
 * deliveries to their subscriptions, and those about their commitments to their community's). Operators only (`erase`, flexibility.admin); a participant may not, even for themself.
 * Erasing a member we hold nothing about answers all zeros, so a retry is harmless.
 *
 * What a member does after this (list suggestions, commit) is held again: disable the account first.
 */
export async function eraseMember({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: MemberIdParam;
}): Promise<MemberErasure> {
  await authorize(ctx, "erase", { type: "member" });
  const { user_id } = parseInput(MemberIdParam, input);
  const erased = await withTransaction(ctx, async (tx) => {
    // Wait for whatever is changing their commitments (a settlement run, a cancel, a reminder being
    // sent) to commit, and hold it off until we do: the statement below, with a snapshot taken after
    // the wait, then sees the ledger entries, settlement records and outbox entries those wrote.
    // (Locking in the delete itself would wait too, but keep the snapshot from before the wait.)
    await tx.db
      .select({ id: commitments.id })
      .from(commitments)
      .where(eq(commitments.userId, user_id))
      .for("update");
    // One statement, one snapshot: every kind of row is erased as of the same moment.
    const [counts] = await rowsOf<MemberErasure>(
      tx.db,
      sql`with
        doomed as (
          delete from ${commitments} where ${commitments.userId} = ${user_id} returning ${commitments.id} as id),
        settled as (
          delete from ${settlements} where ${settlements.commitmentId} in (select id from doomed) returning 1),
        ledger as (
          delete from ${pointsLedger}
          where ${pointsLedger.userId} = ${user_id} or ${pointsLedger.commitmentId} in (select id from doomed)
          returning 1),
        readings as (delete from ${meterChunks} where ${meterChunks.userId} = ${user_id} returning 1),
        offered as (delete from ${offers} where ${offers.userId} = ${user_id} returning 1),
        preferred as (delete from ${preferences} where ${preferences.userId} = ${user_id} returning 1),
        feeds as (delete from ${calendarTokens} where ${calendarTokens.userId} = ${user_id} returning 1),
        hooks as (
          delete from ${webhooks} where ${webhooks.userId} = ${user_id} returning ${webhooks.id}::text as id),
        queued as (
          delete from ${outbox}
          where ${outbox.commitmentId} in (select id from doomed)
            or ${outbox.payload} ->> 'user_id' = ${user_id}
            or (${outbox.kind} = 'mqtt' and ${outbox.target} = ${committedTopic(user_id)})
            or (${outbox.kind} = 'webhook' and ${outbox.target} in (select id from hooks))
          returning 1)
      select
        (select count(*) from doomed)::int as commitments,
        (select count(*) from ledger)::int as ledger_entries,
        (select count(*) from settled)::int as settlements,
        (select count(*) from readings)::int as readings,
        (select count(*) from offered)::int as offers,
        (select count(*) from preferred)::int as preferences,
        (select count(*) from feeds)::int as calendar_tokens,
        (select count(*) from hooks)::int as webhooks,
        (select count(*) from queued)::int as outbox`,
    );
    if (!counts) throw new Error("the erasure statement answered no row");
    return counts;
  });
  // Who erased and how much; whom is for the audit log only (no row of theirs is ever logged).
  const operator =
    ctx.actor.kind === "system"
      ? { sub: "system", client_id: null }
      : { sub: ctx.actor.id, client_id: ctx.actor.clientId };
  ctx.log.info("member erased", { operator: operator.sub, client_id: operator.client_id, erased });
  ctx.audit({
    event: "erased",
    action: "erase",
    ...operator,
    member: user_id,
    erased,
    request_id: ctx.requestId,
  });
  return erased;
}
