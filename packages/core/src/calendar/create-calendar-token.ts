import { authorize, ownScope, refuse } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { calendarTokens } from "../db/schema.ts";
import type { CalendarToken } from "../schemas/calendar.ts";
import { feedUrl, hashFeedSecret, newFeedSecret } from "./feed-secret.ts";

/**
 * A fresh secret URL of the caller's calendar feed. One per member: it replaces the one before,
 * which stops working at once (only the new secret's hash is stored). The secret is in the answer
 * and nowhere else: asking again is the only way to get a URL back.
 */
export async function createCalendarToken({ ctx }: { ctx: Ctx }): Promise<CalendarToken> {
  const { actor } = ctx;
  await authorize(ctx, "calendar", { type: "calendar_feed", ownerId: ownScope(actor) });
  // The policy admits participants only; our own jobs skip it, and have no calendar either.
  if (actor.kind !== "participant") throw refuse(ctx, "calendar", "a calendar feed is a participant's own");
  const secret = newFeedSecret();
  const tokenHash = await hashFeedSecret(secret);
  const createdAt = ctx.now();
  await withTransaction(ctx, (tx) =>
    tx.db
      .insert(calendarTokens)
      .values({ userId: actor.id, tokenHash, createdAt })
      .onConflictDoUpdate({ target: calendarTokens.userId, set: { tokenHash, createdAt } }),
  );
  return { url: feedUrl(ctx.config.publicUrl, secret) };
}
