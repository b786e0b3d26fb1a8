import { parseSettlementMethod, type SettlementMethod } from "@celine/core";
import { type Env, PlatformEnv, parseEnv, withSettlementMethod } from "@celine/platform/env";
import { z } from "zod";

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
});
/** The environment, and the settlement method read from the file it names. */
export type ApiEnv = z.output<typeof ApiEnv> & { method: SettlementMethod };

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
  const method = parseSettlementMethod(methodYaml, { pointsPerKwh: parsed.POINTS_PER_KWH });
  if (!method.ok)
    throw new Error(`invalid settlement method (${source}):\n  - ${method.problems.join("\n  - ")}`);
  return { ...parsed, method: method.method };
}
