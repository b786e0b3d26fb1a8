import { and, inArray, sql } from "drizzle-orm";
import { toCommitmentOut } from "../commitments/out.ts";
import type { Ctx } from "../context.ts";
import { rowsOf } from "../db/rows.ts";
import { type CommitmentRow, commitments, outbox, webhooks } from "../db/schema.ts";
import { OUTBOX_CHANNEL } from "../outbox/enqueue.ts";
import type { WebhookEventType, WindowOpportunity } from "../schemas/webhooks.ts";
import { webhookMessage } from "./message.ts";

// Webhook events are outbox entries (kind `webhook`, target = the subscription's id), written by the
// verb's own transaction: one per enabled subscription that wants the event — the member's own and
// their community's. A statement inserts a commitment's entries in event order, so the relay, which
// keeps each subscription's entries of a commitment in id order, delivers them in that order.

/**
 * `type` for each of `rows` (the commitment as it is now, as CommitmentOut) to its member's own
 * subscriptions and to its community's. Answers the entries written; NOTIFYs when there were any.
 */
export async function enqueueCommitmentEvents(
  ctx: Ctx,
  type: WebhookEventType,
  rows: CommitmentRow[],
  { notify = true }: { notify?: boolean } = {},
): Promise<number> {
  if (rows.length === 0) return 0;
  const now = ctx.now();
  const at = now.toISOString();
  const events = JSON.stringify(
    rows.map((row, ord) => ({
      ord,
      commitment_id: row.id,
      user_id: row.userId,
      community_id: row.communityId,
      payload: webhookMessage(type, toCommitmentOut(row), now),
    })),
  );
  const [queued] = await rowsOf<{ n: number }>(
    ctx.db,
    sql`with queued as (
      insert into ${outbox} (kind, target, payload, commitment_id, due_at, next_attempt_at)
      select 'webhook', w.id::text, e.payload, e.commitment_id, ${at}::timestamptz, ${at}::timestamptz
      from jsonb_to_recordset(${events}::jsonb)
        as e(ord int, commitment_id uuid, user_id text, community_id text, payload jsonb)
      join ${webhooks} w on w.disabled_at is null and ${type} = any(w.events)
        and (w.user_id = e.user_id or w.community_id = e.community_id)
      order by e.ord, w.id
      returning 1)
    select count(*)::int as n from queued`,
  );
  const n = queued?.n ?? 0;
  if (n > 0 && notify) await ctx.db.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`);
  return n;
}

/**
 * `type` for the commitments `ids`, read as they are now in the caller's transaction (after its
 * writes). Only the rows some enabled subscription wants are read: none, one cheap query.
 */
export async function enqueueCommitmentEventsOf(
  ctx: Ctx,
  type: WebhookEventType,
  ids: string[],
): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await ctx.db
    .select()
    .from(commitments)
    .where(
      and(
        inArray(commitments.id, ids),
        sql`exists (select 1 from ${webhooks} w where w.disabled_at is null and ${type} = any(w.events)
          and (w.user_id = ${commitments.userId} or w.community_id = ${commitments.communityId}))`,
      ),
    );
  // The caller's order (window order in a settlement batch), not the database's.
  const order = new Map(ids.map((id, i) => [id, i]));
  rows.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
  return enqueueCommitmentEvents(ctx, type, rows);
}

/** `window.opportunity` to the community's subscriptions and its members' own (`memberIds`). */
export async function enqueueOpportunityEvent(
  ctx: Ctx,
  opportunity: WindowOpportunity,
  memberIds: string[],
): Promise<number> {
  const now = ctx.now();
  const at = now.toISOString();
  const payload = JSON.stringify(webhookMessage("window.opportunity", opportunity, now));
  const [queued] = await rowsOf<{ n: number }>(
    ctx.db,
    sql`with queued as (
      insert into ${outbox} (kind, target, payload, due_at, next_attempt_at)
      select 'webhook', w.id::text, ${payload}::jsonb, ${at}::timestamptz, ${at}::timestamptz
      from ${webhooks} w
      where w.disabled_at is null and 'window.opportunity' = any(w.events)
        and (w.community_id = ${opportunity.community_id}
          or w.user_id in (select jsonb_array_elements_text(${JSON.stringify(memberIds)}::jsonb)))
      order by w.id
      returning 1)
    select count(*)::int as n from queued`,
  );
  const n = queued?.n ?? 0;
  if (n > 0) await ctx.db.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`);
  return n;
}
