import { and, eq, sql } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import type { Db } from "../db/database.ts";
import { type CommitmentRow, commitments, offers, outbox } from "../db/schema.ts";
import { ConflictError, ValidationError } from "../errors.ts";
import { type CommitmentForEntries, commitmentEntries } from "../outbox/commitment-entries.ts";
import { outboxRowsOf } from "../outbox/enqueue.ts";
import { wakeOutbox } from "../outbox/wake.ts";
import type { DtAuth } from "../platform/ports.ts";
import { RespondInput, type RespondOut, SuggestionIdParam } from "../schemas/suggestions.ts";
import { parseInstant } from "../time.ts";
import { parseInput } from "../validate.ts";
import { messageOf } from "./list-suggestions.ts";

/** Points promised when nothing better is known (no estimate offered, none sent). */
export const DEFAULT_REWARD_POINTS = 10;
/** Counter of accepts whose community/device could not be resolved from the DT, by stage. */
export const RESPOND_DEGRADED = "flexibility_respond_degraded_total";

type Terms = { start: Date; end: Date; points: number; communityId: string | null; deviceId: string | null };
type OfferRow = typeof offers.$inferSelect;

/**
 * A member's answer to a window (PLATFORM §1).
 *
 * Accepted: the bounds and estimate are the ones we offered this member (the client's
 * `period_*`/`reward_points` count only for a window we never offered them, and are validated
 * then). Idempotent: a live commitment for the window is returned as it is, and concurrent
 * identical accepts meet at the partial unique index, so there is only ever one. The commitment
 * and its side effects (MQTT event, confirmation nudge, held reminder) commit together.
 *
 * Declined: a `rejected` row with estimate 0; no DT call, no events; 409 while the member holds a
 * live commitment for the window (they cancel it instead).
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
  if (answer.response === "declined") return decline(ctx, owner, id, answer);
  return accept(ctx, owner, id, answer);
}

async function accept(ctx: Ctx, owner: string, id: string, answer: RespondInput): Promise<RespondOut> {
  // Both lookups at once: a repeated accept wastes the second, a first accept saves a round trip.
  const [existing, offer] = await Promise.all([
    commitmentFor(ctx.db, owner, id, "committed"),
    offerOf(ctx.db, owner, id),
  ]);
  if (existing) return committedOut(existing);
  const now = ctx.now();
  const terms = offer
    ? termsOfOffer(offer)
    : { ...termsOfClient(answer), ...(await placementOf(ctx, owner)) };
  if (terms.end <= now) throw new ConflictError(`window ${id} has already ended`);

  // Of concurrent identical accepts one inserts; the others wait on the partial unique index,
  // do nothing, and read the winner. A cancel slipping in between makes us try once more.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const created = await insertCommitment(ctx, { ...terms, userId: owner, suggestionId: id }, now);
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
    const live = await commitmentFor(ctx.db, owner, id, "committed");
    if (live) return committedOut(live);
  }
  throw new ConflictError(`window ${id} changed while accepting; try again`);
}

/**
 * The commitment and its outbox entries (MQTT event, confirmation, held reminder) in ONE
 * statement — one implicit transaction, one round trip instead of four: the outbox rows are
 * inserted only if the commitment row was (a data-modifying CTE). Null when a live commitment for
 * the member and window already exists.
 */
async function insertCommitment(
  ctx: Ctx,
  terms: Terms & { userId: string; suggestionId: string },
  now: Date,
): Promise<CommitmentForEntries | null> {
  const commitment: CommitmentForEntries = {
    id: crypto.randomUUID(),
    userId: terms.userId,
    suggestionId: terms.suggestionId,
    communityId: terms.communityId,
    deviceId: terms.deviceId,
    periodStart: terms.start,
    periodEnd: terms.end,
    rewardPointsEstimated: terms.points,
  };
  const rows = outboxRowsOf(commitmentEntries(commitment, ctx.config, now), now);
  const inserted = ctx.db.$with("inserted").as(
    ctx.db
      .insert(commitments)
      .values({ ...commitment, committedAt: now, createdAt: now })
      .onConflictDoNothing({
        target: [commitments.userId, commitments.suggestionId],
        where: sql`status = 'committed'`,
      })
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
  const [row] = await ctx.db
    .with(inserted, queued)
    .select({ id: inserted.id, queued: sql<number>`(select count(*) from queued)::int` })
    .from(inserted);
  if (!row) return null;
  if (row.queued !== rows.length)
    throw new Error(`accept queued ${row.queued} of ${rows.length} side effects`);
  return commitment;
}

async function decline(ctx: Ctx, owner: string, id: string, answer: RespondInput): Promise<RespondOut> {
  const now = ctx.now();
  await withTransaction(ctx, async (tx) => {
    if (await commitmentFor(tx.db, owner, id, "committed", { lock: true })) {
      throw new ConflictError(
        `you hold a live commitment for window ${id}: cancel it (DELETE /api/commitments/{id}) instead`,
      );
    }
    // Declining twice records one answer.
    if (await commitmentFor(tx.db, owner, id, "rejected")) return;
    const offer = await offerOf(tx.db, owner, id);
    const terms = offer
      ? termsOfOffer(offer)
      : { ...termsOfClient(answer), communityId: null, deviceId: null };
    await tx.db.insert(commitments).values({
      userId: owner,
      suggestionId: id,
      communityId: terms.communityId,
      deviceId: terms.deviceId,
      periodStart: terms.start,
      periodEnd: terms.end,
      status: "rejected",
      // What the response says: a decline earns nothing.
      rewardPointsEstimated: 0,
      committedAt: now,
      createdAt: now,
    });
  });
  return { commitment_id: null, status: "declined", reward_points_estimated: 0 };
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

async function offerOf(db: Db, owner: string, id: string): Promise<OfferRow | undefined> {
  const [offer] = await db
    .select()
    .from(offers)
    .where(and(eq(offers.userId, owner), eq(offers.windowId, id)));
  return offer;
}

/** What we offered: our bounds, our estimate (none shown → the default), where it was offered. */
function termsOfOffer(offer: OfferRow): Terms {
  return {
    start: offer.periodStart,
    end: offer.periodEnd,
    points: offer.rewardPoints ?? DEFAULT_REWARD_POINTS,
    communityId: offer.communityId,
    deviceId: offer.deviceId,
  };
}

/** A window we never offered: the client's bounds, which must be real and in order. */
function termsOfClient(answer: RespondInput): Pick<Terms, "start" | "end" | "points"> {
  const start = instantField(answer.period_start, "period_start");
  const end = instantField(answer.period_end, "period_end");
  if (end <= start) throw invalid("period_end", "must be after period_start");
  const points = answer.reward_points ?? DEFAULT_REWARD_POINTS;
  if (points < 0 || points > 1_000_000) throw invalid("reward_points", "must be between 0 and 1000000");
  return { start, end, points };
}

function instantField(value: string | null | undefined, path: string): Date {
  if (value === null || value === undefined || value.trim() === "") {
    throw invalid(path, "required for a window that was not offered to you");
  }
  const date = parseInstant(value);
  if (!date) throw invalid(path, `not an ISO-8601 date-time: ${JSON.stringify(value)}`);
  return date;
}

function invalid(path: string, message: string): ValidationError {
  return new ValidationError(`${path}: ${message}`, [{ path, message }]);
}

/** Community and device from the DT with the caller's token, best effort (unknown → null). */
async function placementOf(ctx: Ctx, owner: string): Promise<Pick<Terms, "communityId" | "deviceId">> {
  if (ctx.actor.kind !== "participant" || !ctx.credentials) return { communityId: null, deviceId: null };
  const auth: DtAuth = { kind: "user", token: ctx.credentials };
  const [membership, device] = await Promise.allSettled([
    ctx.platform.dt.membership(auth, owner),
    ctx.platform.dt.deviceOf(auth, owner),
  ]);
  const failed = (stage: string, error: unknown) => {
    ctx.metrics.inc(RESPOND_DEGRADED, { stage });
    ctx.log.warn("respond: digital twin call failed; committing without it", {
      stage,
      error: messageOf(error),
    });
    return null;
  };
  return {
    communityId:
      membership.status === "fulfilled"
        ? (membership.value?.community.key ?? null)
        : failed("membership", membership.reason),
    deviceId: device.status === "fulfilled" ? device.value : failed("device", device.reason),
  };
}

function committedOut(row: CommitmentRow): RespondOut {
  return { commitment_id: row.id, status: "committed", reward_points_estimated: row.rewardPointsEstimated };
}
