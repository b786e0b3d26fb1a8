import { and, asc, eq, gt, gte, inArray, lte, notExists } from "drizzle-orm";
import { authorize } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { calendarTokens, commitments, offers } from "../db/schema.ts";
import { NotFoundError } from "../errors.ts";
import { CalendarFeedParam } from "../schemas/calendar.ts";
import { parseInput } from "../validate.ts";
import { commitmentEvent, type FeedEvent, offerEvent } from "./feed-events.ts";
import { hashFeedSecret, secretOfFeed, sha256Hex } from "./feed-secret.ts";
import { renderFeed } from "./render-feed.ts";

const DAY_MS = 86_400_000;
/** Commitments (live, settled, cancelled) whose window ended at most this long ago… */
const FEED_PAST_DAYS = 30;
/** …or starts at most this far ahead; offered windows too. */
const FEED_AHEAD_DAYS = 7;
/** A bound on rows per kind (a member has a handful a day; this is never reached honestly). */
const FEED_MAX_ROWS = 1000;

/**
 * A member's calendar feed (RFC 5545 text) by the secret in its URL. No token: the secret is the
 * credential, and the policy is asked, with no subject, to read the feed of the member it belongs
 * to. An unknown or replaced secret is 404, as is anything that cannot be one.
 *
 * Holds their commitments — live and settled, and cancelled ones as STATUS:CANCELLED — whose window
 * ends within the last 30 days or starts within the next 7, and, as TENTATIVE, the windows offered
 * to them that start within the next 7 days and that they have not answered (no commitment of any
 * status for the window: an accepted, declined or cancelled one is not offered again here).
 */
export async function getCalendarFeed({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: CalendarFeedParam;
}): Promise<string> {
  const { feed } = parseInput(CalendarFeedParam, input);
  const secret = secretOfFeed(feed);
  if (secret === null) throw new NotFoundError("no calendar feed here");
  const tokenHash = await hashFeedSecret(secret);
  return withTransaction(ctx, async (tx) => {
    const [token] = await tx.db
      .select({ userId: calendarTokens.userId })
      .from(calendarTokens)
      .where(eq(calendarTokens.tokenHash, tokenHash));
    if (!token) throw new NotFoundError("no calendar feed here");
    const member = token.userId;
    await authorize(tx, "read", { type: "calendar_feed", ownerId: member });

    const now = ctx.now();
    const since = new Date(now.getTime() - FEED_PAST_DAYS * DAY_MS);
    const until = new Date(now.getTime() + FEED_AHEAD_DAYS * DAY_MS);
    const held = await tx.db
      .select({
        id: commitments.id,
        status: commitments.status,
        periodStart: commitments.periodStart,
        periodEnd: commitments.periodEnd,
        committedAt: commitments.committedAt,
        settledAt: commitments.settledAt,
        rewardPointsEstimated: commitments.rewardPointsEstimated,
        rewardPointsActual: commitments.rewardPointsActual,
        settlementRevision: commitments.settlementRevision,
      })
      .from(commitments)
      .where(
        and(
          eq(commitments.userId, member),
          inArray(commitments.status, ["committed", "settled", "cancelled"]),
          gte(commitments.periodEnd, since),
          lte(commitments.periodStart, until),
        ),
      )
      .orderBy(asc(commitments.periodStart), asc(commitments.id))
      .limit(FEED_MAX_ROWS);
    const open = await tx.db
      .select({
        windowId: offers.windowId,
        periodStart: offers.periodStart,
        periodEnd: offers.periodEnd,
        rewardPoints: offers.rewardPoints,
        firstOfferedAt: offers.firstOfferedAt,
      })
      .from(offers)
      .where(
        and(
          eq(offers.userId, member),
          gt(offers.periodStart, now),
          lte(offers.periodStart, until),
          notExists(
            tx.db
              .select({ id: commitments.id })
              .from(commitments)
              .where(
                and(eq(commitments.userId, offers.userId), eq(commitments.suggestionId, offers.windowId)),
              ),
          ),
        ),
      )
      .orderBy(asc(offers.periodStart), asc(offers.windowId))
      .limit(FEED_MAX_ROWS);

    const { communityTimezone: timeZone, reminderLeadMinutes } = ctx.config;
    const host = new URL(ctx.config.publicUrl).hostname;
    const events: FeedEvent[] = held.map((row) => commitmentEvent(row, host, timeZone));
    for (const offer of open) {
      const key = (await sha256Hex(`${member}\n${offer.windowId}`)).slice(0, 32);
      events.push(offerEvent(offer, key, host, timeZone));
    }
    // One order for the same state, whatever the rows' order: the feed's text (and ETag) is stable.
    events.sort(
      (a, b) => a.start.getTime() - b.start.getTime() || (a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0),
    );
    return renderFeed(events, { timeZone, reminderLeadMinutes });
  });
}
