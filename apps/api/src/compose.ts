import { createLogger, createMetrics, type Logger, type LogSink, type Metrics } from "@celine/core";
import { coreConfigOf, insecureAllowances, insecureSettings, isDev, jwksUriOf } from "@celine/platform/env";
import { createApp } from "./app.ts";
import { type ApiEnv, rateLimitsOf } from "./env.ts";
import type { AppDeps } from "./lib/app-env.ts";
import type { LoadedPolicy } from "./lib/compile-policy.ts";
import { createTokenVerifier } from "./lib/identity.ts";

// The app from parsed configuration and the runtime's parts, with no file system, driver or
// server: shared by the Bun and Node assembly (server.ts) and the edge entry (edge.ts).

export type Telemetry = { log: Logger; audit: Logger; metrics: Metrics };

/** The app's logger, the dedicated audit logger and the metrics registry. */
export function createTelemetry(env: Pick<ApiEnv, "LOG_LEVEL">, sink?: LogSink): Telemetry {
  return {
    log: createLogger({ level: env.LOG_LEVEL, sink, fields: { service: "flexibility-api" } }),
    audit: createLogger({ level: "info", sink, fields: { logger: "audit" } }),
    metrics: createMetrics(),
  };
}

/**
 * What refuses a start outside CELINE_ENV=dev: the insecure settings, a policy bundle that did not
 * load (in dev such a policy only denies every request, with a warning), and no CELINE_PUBLIC_URL
 * (the calendar feed URLs handed to members would name this machine). What is allowed but weakens the
 * posture (CELINE_OIDC_ALLOW_HTTP) is logged.
 */
export function startProblems(env: ApiEnv, policy: LoadedPolicy, log: Logger): string[] {
  const problems = insecureSettings(env);
  if (!isDev(env) && !policy.loaded) problems.push(policy.detail);
  if (!isDev(env) && !env.CELINE_PUBLIC_URL) {
    problems.push(
      `CELINE_PUBLIC_URL is unset (calendar feed URLs would point at ${coreConfigOf(env).publicUrl})`,
    );
  }
  if (!policy.loaded) log.warn("policy not loaded; every request will be denied", { detail: policy.detail });
  for (const allowance of insecureAllowances(env)) log.warn(allowance);
  return problems;
}

export type AppParts = Telemetry &
  Pick<AppDeps, "database" | "platform" | "now" | "docsAsset" | "collectGarbage" | "socketAddress"> & {
    policy: LoadedPolicy;
  };

export function composeApp(env: ApiEnv, { policy, ...parts }: AppParts) {
  return createApp({
    ...parts,
    authorizer: policy.authorizer,
    policy,
    verifier: createTokenVerifier({
      issuer: env.CELINE_OIDC_BASE_URL,
      jwksUri: jwksUriOf(env),
      audience: env.CELINE_OIDC_AUDIENCE,
      cooldownMs: env.JWKS_COOLDOWN_MS,
      log: parts.log,
    }),
    core: coreConfigOf(env),
    jwtHeaderName: env.JWT_HEADER_NAME,
    docs: isDev(env) || env.CELINE_PUBLIC_DOCS,
    rateLimits: rateLimitsOf(env),
    trpcMaxBatchSize: env.TRPC_MAX_BATCH_SIZE,
    metricsAccess: { token: env.METRICS_TOKEN, elsewhere: env.METRICS_PORT !== undefined },
  });
}
