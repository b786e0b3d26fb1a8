import type { SettlementMethod } from "@celine/core";
import {
  type Env,
  optionalSetting,
  PlatformEnv,
  parseEnv,
  settlementMethodOf,
  withSettlementMethod,
} from "@celine/platform/env";
import { MetricsEnv } from "@celine/platform/metrics-access";
import { z } from "zod";
import { DEFAULT_PER_MINUTE, DEFAULT_TRPC_MAX_BATCH_SIZE, type RateLimits } from "./lib/rate-limit.ts";

/** Requests per minute per caller; 0 lifts the limit. */
const perMinute = (fallback: number) => z.coerce.number().int().min(0).max(1_000_000).default(fallback);

export const ApiEnv = PlatformEnv.extend({
  PORT: z.coerce.number().int().min(0).max(65535).default(8017),
  CELINE_PUBLIC_DOCS: z
    .enum(["true", "false", "1", "0", ""])
    .default("false")
    .transform((v) => v === "true" || v === "1"),
  JWT_HEADER_NAME: z
    .string()
    .default("x-auth-request-access-token")
    .transform((v) => v.toLowerCase()),
  /** How long a JWKS fetch blocks refetching on an unknown `kid` (ms). */
  JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).default(10_000),
  POLICY_DIR: z.string().default("policies"),
  /** Abuse limits per member (`sub`) or service (client id), per route class (docs/api.md, "Rate limits"). */
  RATE_LIMIT_READS_PER_MIN: perMinute(DEFAULT_PER_MINUTE.reads),
  RATE_LIMIT_WRITES_PER_MIN: perMinute(DEFAULT_PER_MINUTE.writes),
  RATE_LIMIT_EXPORT_PER_MIN: perMinute(DEFAULT_PER_MINUTE.export),
  /** Per calendar feed (its secret). */
  RATE_LIMIT_FEED_PER_MIN: perMinute(DEFAULT_PER_MINUTE.feed),
  /** Per client address: requests refused for a missing or bad token, and fetches of unknown feeds. */
  RATE_LIMIT_UNAUTHENTICATED_PER_MIN: perMinute(DEFAULT_PER_MINUTE.unauthenticated),
  /** A service's reads, writes and exports may be this many times a member's. */
  RATE_LIMIT_SERVICE_FACTOR: z.coerce.number().int().min(1).max(1_000).default(10),
  /**
   * The header the proxy in front writes the client's address into (`x-forwarded-for`: its last
   * entry; `x-real-ip`; `cf-connecting-ip` on Workers). Unset: the connection's peer address.
   */
  CLIENT_IP_HEADER: optionalSetting(z.string().regex(/^[A-Za-z0-9-]+$/, "must be a header name")).transform(
    (v) => v?.toLowerCase(),
  ),
  /** The most procedures one tRPC batch request may call; larger batches are refused (400). */
  TRPC_MAX_BATCH_SIZE: z.coerce.number().int().min(1).max(100).default(DEFAULT_TRPC_MAX_BATCH_SIZE),
}).extend(MetricsEnv.shape);
/** The environment, and the settlement method read from the file it names. */
export type ApiEnv = z.output<typeof ApiEnv> & { method: SettlementMethod };

/** The abuse limits the environment asks for. */
export function rateLimitsOf(env: z.output<typeof ApiEnv>): RateLimits {
  return {
    perMinute: {
      reads: env.RATE_LIMIT_READS_PER_MIN,
      writes: env.RATE_LIMIT_WRITES_PER_MIN,
      export: env.RATE_LIMIT_EXPORT_PER_MIN,
      feed: env.RATE_LIMIT_FEED_PER_MIN,
      unauthenticated: env.RATE_LIMIT_UNAUTHENTICATED_PER_MIN,
    },
    serviceFactor: env.RATE_LIMIT_SERVICE_FACTOR,
    clientIpHeader: env.CLIENT_IP_HEADER,
  };
}

/** Parse the environment once; every problem is named in one error. */
export function parseApiEnv(env: Env): ApiEnv {
  return withSettlementMethod(parseEnv(ApiEnv, env));
}

/**
 * The same, with the settlement method's YAML given as text (the edge entry bundles it: there is no
 * file to read); FLEXIBILITY_CONFIG is not read, POINTS_PER_KWH still overrides the rate.
 */
export function parseApiEnvWithMethod(env: Env, methodYaml: string, source: string): ApiEnv {
  const parsed = parseEnv(ApiEnv, env);
  const overrides = { pointsPerKwh: parsed.POINTS_PER_KWH };
  return { ...parsed, method: settlementMethodOf(methodYaml, `settlement method (${source})`, overrides) };
}
