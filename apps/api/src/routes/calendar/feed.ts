import { CalendarFeedParam, getCalendarFeed } from "@celine/core";
import { createRoute, type RouteHandler, z } from "@hono/zod-openapi";
import { etag } from "hono/etag";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";

/** Calendar apps poll on their own schedule; within 5 minutes they may reuse what they hold. */
const CACHE_CONTROL = "private, max-age=300";

/**
 * The feed a request fetches — the secret in its path, its credential — or null when it is no feed
 * request. Feed requests carry no bearer (the app gives them an anonymous verb context) and are
 * limited per feed. GET /api/calendar/token is one too, and finds no feed (404).
 */
export function feedOf(method: string, path: string): string | null {
  if (method !== "GET" && method !== "HEAD") return null;
  return /^\/api\/calendar\/([^/]+)$/.exec(path)?.[1] ?? null;
}

/** Fetches are limited per feed and, for unknown feeds, per address (app.ts, RATE_LIMIT_FEED_PER_MIN). */
export const route = createRoute({
  method: "get",
  path: "/api/calendar/{feed}",
  tags: ["calendar"],
  summary: "A member's calendar feed (RFC 5545), by the secret in its URL",
  description:
    "No bearer: the secret from `POST /api/calendar/token` is the credential. The member's live and settled commitments whose window ends within the last 30 days or starts within the next 7, cancelled ones as `STATUS:CANCELLED`, and the windows offered to them and not yet answered as `TENTATIVE`. Times carry the community's `TZID` with its `VTIMEZONE`; a live commitment has an alarm `REMINDER_LEAD_MINUTES` before it. `UID` is `<commitment id>@<host>` for the commitment's whole life; `SEQUENCE` is 0 while live, the settlement revision once settled (1, +1 per restatement), 1 once cancelled. Revalidate with `If-None-Match` (304). An unknown or replaced secret is 404; too many requests for one feed, 429 with `Retry-After`.",
  security: [],
  middleware: [etag({ generateDigest: (body) => crypto.subtle.digest("SHA-256", body) })] as const,
  request: { params: CalendarFeedParam },
  responses: {
    200: {
      description: "The feed",
      headers: {
        ETag: { description: "A hash of the body", schema: { type: "string" } },
        "Cache-Control": { description: CACHE_CONTROL, schema: { type: "string" } },
      },
      content: { "text/calendar": { schema: z.string().meta({ description: "RFC 5545 iCalendar text" }) } },
    },
    304: { description: "Not modified: the feed still matches `If-None-Match`" },
    ...problemResponses(404, 429),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) => {
  const body = await getCalendarFeed({ ctx: c.var.ctx, input: c.req.valid("param") });
  return c.body(body, 200, {
    "content-type": "text/calendar; charset=utf-8",
    "cache-control": CACHE_CONTROL,
    // The URL is a credential: a leaked one must not end up in a search index.
    "x-robots-tag": "noindex, nofollow",
  });
};
