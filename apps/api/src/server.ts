import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type LogSink, type Metrics, type OutboxRelay, type Platform, startOutboxRelay } from "@celine/core";
import { type Database, openDatabase } from "@celine/core/db";
import { createPlatform } from "@celine/platform";
import { coreConfigOf } from "@celine/platform/env";
import { composeApp, createTelemetry, startProblems } from "./compose.ts";
import type { ApiEnv } from "./env.ts";
import type { SocketAddress } from "./lib/client-address.ts";
import { loadPolicy } from "./lib/policy.ts";

// Assembles the app from configuration: the part shared by the Bun and Node entry points
// (apps/api/bin/). Runtime-specific pieces (files for policies and docs assets, the database
// driver, the outbox relay) live here; the edge entry (edge.ts) has its own. Importing this module
// starts nothing: assemble() does, when called.

export { ApiEnv, parseApiEnv } from "./env.ts";
export { DEFAULT_PER_MINUTE } from "./lib/rate-limit.ts";

export type Server = {
  app: ReturnType<typeof composeApp>;
  database: Database;
  problems: string[];
  /** The registry /metrics renders (an entry point serves it on METRICS_PORT when set). */
  metrics: Metrics;
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
    /** The connection's peer address, for the per-address limit (see AppDeps). */
    socketAddress?: SocketAddress;
  } = {},
): Promise<Server> {
  const telemetry = createTelemetry(env, opts.sink);
  const { log, metrics } = telemetry;
  const policy = await loadPolicy({ dir: env.POLICY_DIR, opaUrl: env.OPA_URL, log });
  const problems = startProblems(env, policy, log);
  const database = await openDatabase({
    url: env.DATABASE_URL,
    schema: env.DB_SCHEMA,
    dataDir: opts.dataDir,
    // A bundle (node.ts) cannot find drizzle/ relative to its own source file: it says where.
    migrations: opts.migrations,
  });
  const owned = opts.platform ? null : createPlatform({ env, log, metrics, mqtt: opts.relay === true });
  const platform = opts.platform ?? owned ?? undefined;
  const app = composeApp(env, {
    ...telemetry,
    database,
    policy,
    docsAsset: serveSwaggerAsset,
    now: opts.now,
    platform,
    collectGarbage: opts.collectGarbage,
    socketAddress: opts.socketAddress,
  });
  let relay: OutboxRelay | null = null;
  if (opts.relay && platform && problems.length === 0) {
    relay = await startOutboxRelay({
      database,
      platform,
      log,
      metrics,
      now: opts.now,
      allowPrivateWebhookTargets: coreConfigOf(env).allowPrivateWebhookTargets,
    });
  }
  return {
    app,
    database,
    problems,
    metrics,
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
