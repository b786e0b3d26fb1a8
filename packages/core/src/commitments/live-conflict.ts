import { and, desc, eq, gt, lt, or, sql } from "drizzle-orm";
import type { Db } from "../db/database.ts";
import { type CommitmentRow, commitments } from "../db/schema.ts";
import { ConflictError } from "../errors.ts";
import { formatInstant } from "../time.ts";

/** The window a new live commitment would hold. */
export type LiveWindow = { userId: string; suggestionId: string; start: Date; end: Date };

/**
 * Why a live commitment could not be inserted: the member's live commitment for the same window,
 * else one overlapping it in time (the database refused the insert on the partial unique index or
 * on the exclusion constraint `flexibility_commitments_live_overlap_excl`). Undefined when neither
 * exists any more (cancelled in between): the caller may try again.
 */
export async function blockingCommitment(db: Db, window: LiveWindow): Promise<CommitmentRow | undefined> {
  const sameWindow = eq(commitments.suggestionId, window.suggestionId);
  const [row] = await db
    .select()
    .from(commitments)
    .where(
      and(
        eq(commitments.userId, window.userId),
        eq(commitments.status, "committed"),
        or(sameWindow, and(lt(commitments.periodStart, window.end), gt(commitments.periodEnd, window.start))),
      ),
    )
    .orderBy(desc(sql`${sameWindow}`))
    .limit(1);
  return row;
}

/** 409 naming the live commitment a new one would overlap (energy is counted once). */
export function overlapConflict(window: LiveWindow, blocking: CommitmentRow, whose: string): ConflictError {
  const span = `${formatInstant(blocking.periodStart)}–${formatInstant(blocking.periodEnd)}`;
  return new ConflictError(
    `window ${window.suggestionId} (${formatInstant(window.start)}–${formatInstant(window.end)}) overlaps ${whose} live commitment ${blocking.id} (${span})`,
  );
}
