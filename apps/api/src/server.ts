import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import {
  createLogger,
  createMetrics,
  type LogSink,
  type OutboxRelay,
  type Platform,
  startOutboxRelay,
} from "@celine/core";
import { type Database, openDatabase } from "@celine/core/db";
import { createPlatform } from "@celine/platform";
import { coreConfigOf, insecureSettings, isDev, jwksUriOf } from "@celine/platform/env";
import { createApp } from "./app.ts";
import type { ApiEnv } from "./env.ts";
import { createTokenVerifier } from "./lib/identity.ts";
import { loadPolicy } from "./lib/policy.ts";

// Assembles the app from configuration: the part shared by the Bun and Node entry points
// (apps/api/bin/). Runtime-specific pieces (files for policies and docs assets, the database
// driver) live here. Importing this module starts nothing: assemble() does, when called.

export { ApiEnv, parseApiEnv } from "./env.ts";

export type Server = {
  app: ReturnType<typeof createApp>;
  database: Database;
  problems: string[];
  /** Stops what assemble started (the outbox relay, an own broker connection), then closes the database. */
  close(): Promise<void>;
};

export async function assemble(
  env: ApiEnv,
  opts: {
    sink?: LogSink;
    dataDir?: string;
    migrations?: string;
    /** The domain clock (`bun run dev` passes its simulated one); real time by default. */
    now?: () => Date;
    /**
     * Adapters to the Digital Twin, nudging tool, registry and broker. Absent → built from `env`
     * (with a broker connection only when this process runs the relay).
     */
    platform?: Platform;
    /** Run the outbox relay in this process (the API entry points do; the listener runs one too). */
    relay?: boolean;
    /** The runtime's synchronous full garbage collection (see AppDeps). */
    collectGarbage?: () => void;
  } = {},
): Promise<Server> {
  const log = createLogger({ level: env.LOG_LEVEL, sink: opts.sink, fields: { service: "flexibility-api" } });
  const audit = createLogger({ level: "info", sink: opts.sink, fields: { logger: "audit" } });
  const policy = await loadPolicy({ dir: env.POLICY_DIR, opaUrl: env.OPA_URL });
  const problems = insecureSettings(env);
  if (!isDev(env) && !policy.loaded) problems.push(policy.detail);
  if (!policy.loaded) log.warn("policy not loaded; every request will be denied", { detail: policy.detail });
  const database = await openDatabase({
    url: env.DATABASE_URL,
    schema: env.DB_SCHEMA,
    dataDir: opts.dataDir,
    // A bundle (node.ts) cannot find drizzle/ relative to its own source file: it says where.
    migrations: opts.migrations,
  });
  const metrics = createMetrics();
  const owned = opts.platform ? null : createPlatform({ env, log, metrics, mqtt: opts.relay === true });
  const platform = opts.platform ?? owned ?? undefined;
  const app = createApp({
    database,
    authorizer: policy.authorizer,
    policy,
    verifier: createTokenVerifier({
      issuer: env.CELINE_OIDC_BASE_URL,
      jwksUri: jwksUriOf(env),
      audience: env.CELINE_OIDC_AUDIENCE,
      cooldownMs: env.JWKS_COOLDOWN_MS,
    }),
    log,
    audit,
    core: coreConfigOf(env),
    jwtHeaderName: env.JWT_HEADER_NAME,
    docs: isDev(env) || env.CELINE_PUBLIC_DOCS,
    docsAsset: serveSwaggerAsset,
    metrics,
    now: opts.now,
    platform,
    collectGarbage: opts.collectGarbage,
  });
  let relay: OutboxRelay | null = null;
  if (opts.relay && platform && problems.length === 0) {
    relay = await startOutboxRelay({ database, platform, log, metrics, now: opts.now });
  }
  return {
    app,
    database,
    problems,
    async close() {
      await relay?.stop();
      await owned?.close();
      await database.close();
    },
  };
}

const swaggerDir = (() => {
  try {
    return join(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"), "..");
  } catch {
    return null;
  }
})();
const ASSETS: Record<string, string> = {
  "swagger-ui.css": "text/css",
  "swagger-ui-bundle.js": "text/javascript",
};

async function serveSwaggerAsset(name: string): Promise<Response | null> {
  const type = ASSETS[name];
  if (!type || !swaggerDir) return null;
  const body = await readFile(join(swaggerDir, name));
  return new Response(body, { headers: { "content-type": type, "cache-control": "public, max-age=86400" } });
}
