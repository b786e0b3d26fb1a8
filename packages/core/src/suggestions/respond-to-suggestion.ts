import { and, eq, sql } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import { blockingCommitment, overlapConflict } from "../commitments/live-conflict.ts";
import { liveCommitmentRow } from "../commitments/live-row.ts";
import { toCommitmentOut } from "../commitments/out.ts";
import { type Ctx, withTransaction } from "../context.ts";
import type { Db } from "../db/database.ts";
import { type CommitmentRow, commitments, outbox, webhooks } from "../db/schema.ts";
import { ConflictError } from "../errors.ts";
import { type CommitmentForEntries, commitmentEntries } from "../outbox/commitment-entries.ts";
import { outboxRowsOf } from "../outbox/enqueue.ts";
import { wakeOutbox } from "../outbox/wake.ts";
import { RespondInput, type RespondOut, SuggestionIdParam } from "../schemas/suggestions.ts";
import { parseInput } from "../validate.ts";
import { webhookMessage } from "../webhooks/message.ts";
import { assertOpen, findWindow, type PublishedWindow, type WindowHint } from "./find-window.ts";

/**
 * A member's answer to a window (PLATFORM §1).
 *
 * The window must be one we published to this member (findWindow: the offer on record, or the
 * Digital Twin asked with their token); its bounds, estimate, community and device are ours, never
 * the client's (`period_*` only help find it; `reward_points` is ignored). Unknown → 404.
 *
 * Accepted: 409 when the window has ended or overlaps another live commitment of the member (the
 * exclusion constraint decides, so of concurrent overlapping accepts exactly one wins). Idempotent:
 * a live commitment for the window is returned as it is. The commitment and its side effects (MQTT
 * event, confirmation nudge, held reminder, `commitment.created` webhooks) commit together.
 *
 * Declined: a `rejected` row with estimate 0, no events; 409 while the member holds a live
 * commitment for the window (they cancel it instead).
 */
export async function respondToSuggestion({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: { id: string } & RespondInput;
}): Promise<RespondOut> {
  const owner = ctx.actor.id;
  await authorize(ctx, "respond", { type: "suggestion", ownerId: owner });
  const { id } = parseInput(SuggestionIdParam, { id: input?.id });
  const answer = parseInput(RespondInput, {
    response: input?.response,
    reward_points: input?.reward_points,
    period_start: input?.period_start,
    period_end: input?.period_end,
  });
  const hint = { id, periodStart: answer.period_start, periodEnd: answer.period_end };
  if (answer.response === "declined") return decline(ctx, owner, hint);
  return accept(ctx, owner, hint);
}

async function accept(ctx: Ctx, owner: string, hint: WindowHint): Promise<RespondOut> {
  // Both at once: a repeated accept wastes the lookup (an offer on record by then), a first accept
  // saves a round trip.
  const [existing, found] = await Promise.allSettled([
    commitmentFor(ctx.db, owner, hint.id, "committed"),
    findWindow(ctx, owner, hint),
  ]);
  if (existing.status === "rejected") throw existing.reason;
  if (existing.value) return committedOut(existing.value);
  if (found.status === "rejected") throw found.reason;
  const window = found.value;
  assertOpen(window);
  const live = { userId: owner, suggestionId: window.id, start: window.start, end: window.end };

  // Of concurrent accepts one inserts; the others wait on the unique index or the exclusion
  // constraint, do nothing, and read what blocked them: the same window is an idempotent answer,
  // another one a 409. A cancel slipping in between makes us try once more.
  const now = ctx.now();
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const created = await insertCommitment(ctx, window, owner, now);
    if (created) {
      // The NOTIFY goes after the commit, coalesced (see wakeOutbox): in the transaction it
      // would serialise every accept's commit.
      wakeOutbox(ctx.db, ctx.log);
      return {
        commitment_id: created.id,
        status: "committed",
        reward_points_estimated: created.rewardPointsEstimated,
      };
    }
    const blocking = await blockingCommitment(ctx.db, live);
    if (blocking?.suggestionId === window.id) return committedOut(blocking);
    if (blocking) throw overlapConflict(live, blocking, "your");
  }
  throw new ConflictError(`window ${window.id} changed while accepting; try again`);
}

/**
 * The commitment and its outbox entries (MQTT event, confirmation, held reminder, webhooks) in ONE
 * statement — one implicit transaction, one round trip instead of four: the outbox rows are
 * inserted only if the commitment row was (a data-modifying CTE). Null when the member already holds
 * a live commitment for the window or one overlapping it.
 */
async function insertCommitment(
  ctx: Ctx,
  window: PublishedWindow,
  owner: string,
  now: Date,
): Promise<CommitmentForEntries | null> {
  const commitment = liveCommitmentRow({
    id: crypto.randomUUID(),
    ...answerColumns(window, owner, now),
    rewardPointsEstimated: window.rewardPoints,
  });
  const rows = outboxRowsOf(commitmentEntries(commitment, ctx.config, now), now);
  const created = webhookMessage("commitment.created", toCommitmentOut(commitment), now);
  const inserted = ctx.db.$with("inserted").as(
    ctx.db
      .insert(commitments)
      .values(commitment)
      // No conflict target: skipped on the live unique index AND on the overlap exclusion constraint.
      .onConflictDoNothing()
      .returning({ id: commitments.id }),
  );
  const values = sql.join(
    rows.map(
      (r) =>
        sql`(${r.kind}, ${r.target}, ${JSON.stringify(r.payload)}::jsonb, ${r.commitmentId}::uuid, ${r.requiresLive}::boolean, ${r.dueAt.toISOString()}::timestamptz)`,
    ),
    sql`, `,
  );
  const queued = ctx.db.$with("queued", { n: sql<number>`n` }).as(
    sql`insert into ${outbox} (kind, target, payload, commitment_id, requires_live, due_at, next_attempt_at)
      select v.kind, v.target, v.payload, v.commitment_id, v.requires_live, v.due_at, v.due_at
      from (values ${values}) as v (kind, target, payload, commitment_id, requires_live, due_at)
      where exists (select 1 from inserted)
      returning 1 as n`,
  );
  // commitment.created to the member's own webhook subscriptions and their community's.
  const hooked = ctx.db.$with("hooked", { n: sql<number>`n` }).as(
    sql`insert into ${outbox} (kind, target, payload, commitment_id, due_at, next_attempt_at)
      select 'webhook', w.id::text, ${JSON.stringify(created)}::jsonb, ${commitment.id}::uuid,
        ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz
      from ${webhooks} w
      where exists (select 1 from inserted)
        and w.disabled_at is null and 'commitment.created' = any(w.events)
        and (w.user_id = ${owner} or w.community_id = ${commitment.communityId})
      order by w.id
      returning 1 as n`,
  );
  const [row] = await ctx.db
    .with(inserted, queued, hooked)
    .select({ id: inserted.id, queued: sql<number>`(select count(*) from queued)::int` })
    .from(inserted);
  if (!row) return null;
  if (row.queued !== rows.length)
    throw new Error(`accept queued ${row.queued} of ${rows.length} side effects`);
  return commitment;
}

async function decline(ctx: Ctx, owner: string, hint: WindowHint): Promise<RespondOut> {
  // Outside the transaction: it may ask the DT, and no connection waits on that.
  const window = await findWindow(ctx, owner, hint);
  const now = ctx.now();
  await withTransaction(ctx, async (tx) => {
    if (await commitmentFor(tx.db, owner, window.id, "committed", { lock: true })) {
      throw new ConflictError(
        `you hold a live commitment for window ${window.id}: cancel it (DELETE /api/commitments/{id}) instead`,
      );
    }
    // Declining twice records one answer.
    if (await commitmentFor(tx.db, owner, window.id, "rejected")) return;
    await tx.db.insert(commitments).values({
      ...answerColumns(window, owner, now),
      status: "rejected",
      // What the response says: a decline earns nothing.
      rewardPointsEstimated: 0,
    });
  });
  return { commitment_id: null, status: "declined", reward_points_estimated: 0 };
}

/** The row a member's answer to a published window writes, accepted or declined. */
function answerColumns(window: PublishedWindow, owner: string, now: Date) {
  return {
    userId: owner,
    suggestionId: window.id,
    communityId: window.communityId,
    deviceId: window.deviceId,
    periodStart: window.start,
    periodEnd: window.end,
    committedAt: now,
    createdAt: now,
    origin: "member" as const,
    noticeAt: window.noticeAt,
  };
}

/** The member's commitment for the window in `status` (a live one is unique; a decline is recorded once). */
async function commitmentFor(
  db: Db,
  owner: string,
  id: string,
  status: CommitmentRow["status"],
  { lock = false }: { lock?: boolean } = {},
): Promise<CommitmentRow | undefined> {
  const query = db
    .select()
    .from(commitments)
    .where(
      and(eq(commitments.userId, owner), eq(commitments.suggestionId, id), eq(commitments.status, status)),
    )
    .limit(1);
  const [row] = lock ? await query.for("update") : await query;
  return row;
}

function committedOut(row: CommitmentRow): RespondOut {
  return { commitment_id: row.id, status: "committed", reward_points_estimated: row.rewardPointsEstimated };
}
