import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { type CommitmentRow, commitments, type NewCommitmentRow } from "../db/schema.ts";
import { ConflictError, type FieldIssue, ValidationError } from "../errors.ts";
import { commitmentEntries } from "../outbox/commitment-entries.ts";
import { enqueue } from "../outbox/enqueue.ts";
import { wakeOutbox } from "../outbox/wake.ts";
import { type CommitmentOut, CreateCommitmentInput } from "../schemas/commitments.ts";
import { assertOpen, findWindow } from "../suggestions/find-window.ts";
import { parseInput } from "../validate.ts";
import { enqueueCommitmentEvents } from "../webhooks/events.ts";
import { blockingCommitment, type LiveWindow, overlapConflict } from "./live-conflict.ts";
import { toCommitmentOut } from "./out.ts";

/** An operator may record a window of at most this long… */
export const OPERATOR_MAX_WINDOW_MS = 24 * 3_600_000;
/** …that ended at most this long ago. */
export const OPERATOR_MAX_AGE_MS = 7 * 24 * 3_600_000;

type CreateCommitmentData = ReturnType<typeof CreateCommitmentInput.parse>;

/**
 * Record a live commitment.
 *
 * A participant commits for themselves (`user_id` is ignored) to a window we published to them
 * (findWindow): bounds, estimate, community and device are ours; the body's `suggestion_id` and
 * `period_*` only find the window, its `community_id`, `device_id` and `reward_points_estimated`
 * are ignored. Unknown window → 404; ended → 409.
 *
 * A service is an operator recording a commitment on a member's behalf (`flexibility.admin`): it
 * names `user_id`, `device_id` and `community_id`; the window lasts at most 24 h and ended at most
 * 7 days ago; the estimate is the body's.
 *
 * Either way a member's live commitments never overlap: 409 naming the one in the way.
 */
export async function createCommitment({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: CreateCommitmentInput;
}): Promise<CommitmentOut> {
  const { actor } = ctx;
  if (actor.kind === "participant") {
    await authorize(ctx, "write", { type: "commitment", ownerId: actor.id });
    const data = parseInput(CreateCommitmentInput, input);
    const window = await findWindow(ctx, actor.id, {
      id: data.suggestion_id,
      periodStart: data.period_start,
      periodEnd: data.period_end,
    });
    assertOpen(window);
    return insertLive(
      ctx,
      {
        userId: actor.id,
        suggestionId: window.id,
        suggestionType: data.suggestion_type,
        communityId: window.communityId,
        deviceId: window.deviceId,
        periodStart: window.start,
        periodEnd: window.end,
        rewardPointsEstimated: window.rewardPoints,
        origin: "member",
        noticeAt: window.noticeAt,
      },
      "your",
    );
  }

  const named = typeof input === "object" && input !== null ? (input.user_id ?? undefined) : undefined;
  await authorize(ctx, "record", { type: "commitment", ownerId: named });
  const data = parseInput(CreateCommitmentInput, input);
  const { userId, communityId, deviceId } = operatorParties(data);
  const start = new Date(data.period_start);
  const end = new Date(data.period_end);
  checkOperatorWindow(start, end, ctx.now());
  return insertLive(
    ctx,
    {
      userId,
      suggestionId: data.suggestion_id,
      suggestionType: data.suggestion_type,
      communityId,
      deviceId,
      periodStart: start,
      periodEnd: end,
      rewardPointsEstimated: data.reward_points_estimated,
      origin: "operator",
      // The member was told by the operator, if at all, no earlier than now.
      noticeAt: ctx.now(),
    },
    `${userId}'s`,
  );
}

/** An operator names the member, their device and their community; each missing one is named (422). */
function operatorParties(data: CreateCommitmentData): {
  userId: string;
  communityId: string;
  deviceId: string;
} {
  const { user_id: userId, device_id: deviceId, community_id: communityId } = data;
  const issues: FieldIssue[] = [];
  const need = "required when an operator records a commitment";
  if (!userId) issues.push({ path: "user_id", message: need });
  if (!deviceId) issues.push({ path: "device_id", message: need });
  if (!communityId) issues.push({ path: "community_id", message: need });
  if (!userId || !deviceId || !communityId) {
    throw new ValidationError(issues.map((i) => `${i.path}: ${i.message}`).join("; "), issues);
  }
  return { userId, communityId, deviceId };
}

/** At most 24 h long, ended at most 7 days ago (end after start is the schema's rule). */
function checkOperatorWindow(start: Date, end: Date, now: Date): void {
  const refuse = (message: string) =>
    new ValidationError(`period_end: ${message}`, [{ path: "period_end", message }]);
  if (end.getTime() - start.getTime() > OPERATOR_MAX_WINDOW_MS) {
    throw refuse("an operator may record a window of at most 24 hours");
  }
  if (end.getTime() < now.getTime() - OPERATOR_MAX_AGE_MS) {
    throw refuse("the window ended more than 7 days ago; an operator may record it for at most 7 days after");
  }
}

/**
 * One insert that the database may skip — on the live unique index (this window) or the overlap
 * exclusion constraint (another live window of the member's) — then one query for why. A blocker
 * cancelled in between makes us try once more.
 *
 * The commitment's side effects commit with it, as an accept's do (PLATFORM §6: the `committed`
 * MQTT event for any commitment made): the event, the confirmation nudge, the reminder unless the
 * window is over, and `commitment.created` to the member's and the community's webhooks.
 */
async function insertLive(ctx: Ctx, row: NewCommitmentRow, whose: string): Promise<CommitmentOut> {
  const now = ctx.now();
  const live: LiveWindow = {
    userId: row.userId,
    suggestionId: row.suggestionId,
    start: row.periodStart,
    end: row.periodEnd,
  };
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const created = await withTransaction(ctx, async (tx) => {
      const [inserted]: CommitmentRow[] = await tx.db
        .insert(commitments)
        .values({ ...row, committedAt: now, createdAt: now })
        .onConflictDoNothing()
        .returning();
      if (!inserted) return null;
      await enqueue(tx, commitmentEntries(inserted, ctx.config, now), { notify: false });
      await enqueueCommitmentEvents(tx, "commitment.created", [inserted], { notify: false });
      return inserted;
    });
    if (created) {
      // After the commit, coalesced (see wakeOutbox): a NOTIFY inside would serialise the commits.
      wakeOutbox(ctx.db, ctx.log);
      return toCommitmentOut(created);
    }
    const blocking = await blockingCommitment(ctx.db, live);
    if (blocking?.suggestionId === row.suggestionId) {
      throw new ConflictError(
        `user ${row.userId} already holds live commitment ${blocking.id} for window ${row.suggestionId}`,
      );
    }
    if (blocking) throw overlapConflict(live, blocking, whose);
  }
  throw new ConflictError(`window ${row.suggestionId} changed while committing; try again`);
}
