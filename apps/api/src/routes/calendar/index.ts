import { createRateLimiter, type RateLimit } from "../../lib/rate-limit.ts";
import { createRouter } from "../openapi.ts";
import * as createToken from "./create-token.ts";
import * as feed from "./feed.ts";

/**
 * Per feed: 20 fetches at once, then 2 a minute. A calendar app refreshes every 15 minutes to a day;
 * a person reloading by hand stays well under it.
 */
export const FEED_RATE_LIMIT: RateLimit = { burst: 20, perMinute: 2 };

/** The calendar routes, with a feed rate limiter of their own (one per app). */
export function calendar() {
  return createRouter()
    .openapi(createToken.route, createToken.handler)
    .openapi(feed.feedRoute(createRateLimiter(FEED_RATE_LIMIT)), feed.handler);
}
