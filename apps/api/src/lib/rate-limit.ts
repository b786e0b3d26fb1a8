import type { Ctx, Metrics } from "@celine/core";
import type { Context } from "hono";
import {
  type ClientRateLimitInfo,
  type HonoConfigType,
  MemoryStore,
  type Promisify,
} from "hono-rate-limiter";
import { problem } from "./problem.ts";

// Abuse limits: requests per caller per minute, by route class. A caller is the verified member
// (`sub`) or service (its client id); what carries no valid credential is counted per client address.
// Counters live in a store of hono-rate-limiter's kind: its MemoryStore by default, which counts in
// this process only (n replicas admit up to n times the limit in all), or a shared one (its
// RedisStore …) handed in as `RateLimits.store`, so that every replica counts the same callers.

/**
 * reads: GET and tRPC queries; writes: POST/PUT/PATCH/DELETE and tRPC mutations; export: the
 * pipeline's bulk GET /api/commitments/export; feed: fetches of one calendar feed (its secret is the
 * key); unauthenticated: per client address, requests refused for a missing or invalid token and
 * fetches of unknown calendar feeds (a wrong secret is a wrong credential).
 */
const ROUTE_CLASSES = ["reads", "writes", "export", "feed", "unauthenticated"] as const;
export type RouteClass = (typeof ROUTE_CLASSES)[number];

/** Every count is per minute: the window of the default store, and the one a shared store must use. */
const WINDOW_MS = 60_000;

/**
 * The subset of hono-rate-limiter's `Store` the limits use (its MemoryStore and RedisStore have it).
 * `increment` counts one request under a key and answers the count in the key's current window.
 */
export type CounterStore = {
  increment(key: string): Promisify<ClientRateLimitInfo>;
  get(key: string): Promisify<ClientRateLimitInfo | undefined>;
};

export type RateLimits = {
  /** Requests a key may make per window, by class; 0 lifts the class's limit. */
  perMinute: Record<RouteClass, number>;
  /** A service's reads, writes and exports: the class's limit times this (one service acts for many members). */
  serviceFactor: number;
  /** The header a proxy writes the client's address into (e.g. `x-forwarded-for`); unset: the socket's. */
  clientIpHeader?: string | undefined;
  /** Where the counts live; hono-rate-limiter's MemoryStore over WINDOW_MS when absent. */
  store?: CounterStore;
};

/** The defaults of the RATE_LIMIT_* variables (env.ts); see docs/api.md "Rate limits" for the reasoning. */
export const DEFAULT_PER_MINUTE: Record<RouteClass, number> = {
  reads: 300,
  writes: 60,
  export: 30,
  feed: 10,
  unauthenticated: 60,
};

/** The most procedures one tRPC request may call (TRPC_MAX_BATCH_SIZE's default). */
export const DEFAULT_TRPC_MAX_BATCH_SIZE = 10;

export type Limiter = {
  readonly clientIpHeader: string | undefined;
  /**
   * Count one request of the verified caller of `ctx` in `routeClass`: 0 when admitted, else the whole
   * seconds until it may retry. The first refusal of a window is audited as `action`; the ones after
   * it in the same window are counted only (a flood must not flood the audit log as well).
   */
  admit(ctx: Ctx, routeClass: RouteClass, action: string): Promise<number>;
  /** Count one fetch of a calendar feed (by its name in the path); the same answer as `admit`. */
  admitFeed(feed: string, audit: Audit, action: string): Promise<number>;
  /**
   * Whether `address` has used up its unauthenticated requests: the seconds to wait (the request is
   * refused before any token is looked at), else 0. Counts nothing for an address still in credit.
   */
  blockedAddress(address: string | null, audit: Audit, action: string): Promise<number>;
  /** Count one unauthenticated request of `address` (a 401, or an unknown calendar feed). */
  chargeAddress(address: string | null): Promise<void>;
};

/** Writes the audit record of a refusal of a caller without identity (the request's ids added). */
export type Audit = (refusal: { action: string; reason: string }) => void;

/** Longer keys (a service's client id is not bounded by the token checks) share their first 255 characters. */
const MAX_KEY = 255;

/** The store's key of a caller (a member, a client, a feed, an address) in a class. */
function keyOf(routeClass: RouteClass, key: string): string {
  return `${routeClass}|${key.slice(0, MAX_KEY)}`;
}

export function createLimiter(limits: RateLimits, metrics: Metrics, now: () => number = Date.now): Limiter {
  const store = limits.store ?? memoryStore();

  /** Seconds until the window of `info` ends (at least 1). */
  const waitOf = (info: ClientRateLimitInfo) =>
    Math.max(1, Math.ceil(((info.resetTime?.getTime() ?? now() + WINDOW_MS) - now()) / 1000));

  /** Spend one request of `key` against `limit`: 0 or the wait; the first refusal of the window is audited. */
  async function spend(routeClass: RouteClass, key: string, limit: number, refusal: () => void) {
    if (limit <= 0) return 0;
    const info = await snapshot(store.increment(keyOf(routeClass, key)));
    if (info.totalHits <= limit) return 0;
    metrics.inc("http_rate_limited_total", { class: routeClass });
    if (info.totalHits === limit + 1) refusal();
    return waitOf(info);
  }

  const reasonOf = (routeClass: RouteClass, limit: number) =>
    `rate limit: more than ${limit} ${routeClass} requests a minute`;

  return {
    clientIpHeader: limits.clientIpHeader,

    admit(ctx, routeClass, action) {
      const { actor } = ctx;
      if (actor.kind !== "participant" && actor.kind !== "service") return Promise.resolve(0);
      const factor = actor.kind === "service" ? limits.serviceFactor : 1;
      const limit = limits.perMinute[routeClass] * factor;
      // Services are counted by client: every token a client holds shares its budget.
      const key = actor.kind === "service" ? `s:${actor.clientId ?? actor.id}` : `m:${actor.id}`;
      return spend(routeClass, key, limit, () =>
        ctx.audit({
          event: "denied",
          action,
          reason: reasonOf(routeClass, limit),
          sub: actor.id,
          client_id: actor.clientId,
          request_id: ctx.requestId,
        }),
      );
    },

    admitFeed(feed, audit, action) {
      const limit = limits.perMinute.feed;
      return spend("feed", feed, limit, () => audit({ action, reason: reasonOf("feed", limit) }));
    },

    async blockedAddress(address, audit, action) {
      const limit = limits.perMinute.unauthenticated;
      if (address === null || limit <= 0) return 0;
      const held = await store.get(keyOf("unauthenticated", address));
      const ended = (held?.resetTime?.getTime() ?? Number.POSITIVE_INFINITY) <= now();
      if (!held || ended || held.totalHits < limit) return 0;
      // Refused: counted, so that the first refusal of the window (and only it) is audited.
      return spend("unauthenticated", address, limit, () =>
        audit({ action, reason: reasonOf("unauthenticated", limit) }),
      );
    },

    async chargeAddress(address) {
      if (address === null || limits.perMinute.unauthenticated <= 0) return;
      await store.increment(keyOf("unauthenticated", address));
    },
  };
}

/**
 * The count as it was when this request was counted. MemoryStore answers its live record, which the
 * calls of one tRPC batch (running side by side) would all read at its final count after an await.
 */
function snapshot(counted: Promisify<ClientRateLimitInfo>): Promisify<ClientRateLimitInfo> {
  if (counted instanceof Promise) return counted;
  return { totalHits: counted.totalHits, resetTime: counted.resetTime && new Date(counted.resetTime) };
}

/** hono-rate-limiter's MemoryStore, initialised with the one window (it reads nothing else of its options). */
function memoryStore(): CounterStore {
  const store = new MemoryStore();
  store.init({ windowMs: WINDOW_MS } as HonoConfigType);
  return store;
}

/** The 429 answer: a problem document with Retry-After (seconds). */
export function tooManyRequests(c: Context, wait: number): Response {
  const res = problem(c, 429, tooManyRequestsDetail(wait));
  res.headers.set("retry-after", String(wait));
  return res;
}

export function tooManyRequestsDetail(wait: number): string {
  return `too many requests; retry in ${wait} s`;
}

/** The class of a REST request, by method and path. */
export function restClassOf(method: string, path: string): RouteClass {
  if (method === "GET" || method === "HEAD" || method === "OPTIONS") {
    return path === "/api/commitments/export" ? "export" : "reads";
  }
  return "writes";
}

/** The class of a tRPC procedure call, by its type. */
export function trpcClassOf(type: "query" | "mutation" | "subscription"): RouteClass {
  return type === "query" ? "reads" : "writes";
}
