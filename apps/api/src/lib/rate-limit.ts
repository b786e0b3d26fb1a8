import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./app-env.ts";
import { problem } from "./problem.ts";

// A token bucket per key, in this process only (each replica keeps its own). Small on purpose: it
// guards the calendar feed, the one route without a bearer; general rate limits are not this.

export type RateLimit = {
  /** Requests a key may make at once. */
  burst: number;
  /** Requests a key regains per minute, continuously. */
  perMinute: number;
};

export type RateLimiter = {
  /** Spend one request of `key`: 0 when allowed, else the whole seconds until one is regained. */
  take(key: string): number;
};

/** Keys kept at most; past it the oldest are forgotten (a forgotten key starts with a full bucket). */
const MAX_KEYS = 10_000;

export function createRateLimiter(limit: RateLimit, now: () => number = Date.now): RateLimiter {
  const perMs = limit.perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    take(key) {
      const t = now();
      const held = buckets.get(key);
      const tokens = held ? Math.min(limit.burst, held.tokens + (t - held.at) * perMs) : limit.burst;
      // Re-inserted on every use: Map order is then least recently used first.
      buckets.delete(key);
      if (buckets.size >= MAX_KEYS) {
        const oldest = buckets.keys().next();
        if (!oldest.done) buckets.delete(oldest.value);
      }
      if (tokens >= 1) {
        buckets.set(key, { tokens: tokens - 1, at: t });
        return 0;
      }
      buckets.set(key, { tokens, at: t });
      return Math.max(1, Math.ceil((1 - tokens) / perMs / 1000));
    },
  };
}

/** Refuse a request over its key's limit: 429 problem with Retry-After (seconds). */
export function rateLimited(
  limiter: RateLimiter,
  keyOf: (c: Parameters<MiddlewareHandler<AppEnv>>[0]) => string,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const wait = limiter.take(keyOf(c));
    if (wait === 0) return next();
    const res = problem(c, 429, `too many requests; retry in ${wait} s`);
    res.headers.set("retry-after", String(wait));
    return res;
  };
}
