import { AsyncLocalStorage } from "node:async_hooks";
import type { Database } from "@celine/core/db";
// The postgres.js adapter alone: @celine/core/db would bring PGlite into the bundle.
import { connectPostgres } from "@celine/core/db/postgres";
import { createPlatform } from "@celine/platform";
import { type Env, refusalOf } from "@celine/platform/env";
import flexibilityYaml from "../../../config/flexibility.yaml" with { type: "text" };
import accessPolicy from "../../../policies/flexibility.rego" with { type: "text" };
import { composeApp, createTelemetry, startProblems } from "./compose.ts";
import { type ApiEnv, parseApiEnvWithMethod } from "./env.ts";
import { compilePolicy, opaPolicy } from "./lib/compile-policy.ts";

// @celine/api/edge: the app for runtimes with no file system and no long-lived process of ours —
// Deno (bin/deno.ts) and Cloudflare's workerd (bin/worker.ts), or Bun and Node all the same. The
// policy and the settlement method are bundled as text; configuration comes from the runtime's
// environment or bindings; the database is PostgreSQL through postgres.js over the runtime's TCP
// sockets. Not here, because they need what an edge runtime lacks: PGlite (a file-system image and
// a long-lived process), the outbox relay and the listener (long-lived loops and an MQTT
// connection), the /docs assets (files of swagger-ui-dist; /openapi.json is served).

/** The .rego modules of policies/ (the `_test.rego` ones aside), as text in the bundle. */
export const BUNDLED_POLICIES = [{ path: "policies/flexibility.rego", source: accessPolicy }];
/** The settlement method: config/flexibility.yaml at build time (POINTS_PER_KWH still overrides the rate). */
const METHOD_YAML: string = flexibilityYaml;
const METHOD_SOURCE = "config/flexibility.yaml, bundled";

export type EdgeDatabase = Pick<Database, "db" | "ping">;

/** The configuration of an edge entry: DATABASE_URL is required there. */
export type EdgeEnv = ApiEnv & { DATABASE_URL: string };

/**
 * The configuration from the runtime's environment or bindings (string values; other bindings are
 * ignored), every problem named in one error.
 */
export function parseEdgeEnv(bindings: Record<string, unknown>): EdgeEnv {
  const env = parseApiEnvWithMethod(stringsOf(bindings), METHOD_YAML, METHOD_SOURCE);
  const url = env.DATABASE_URL;
  if (!url) {
    throw new Error(
      "DATABASE_URL is required on the edge: the embedded database (PGlite) does not run there",
    );
  }
  return { ...env, DATABASE_URL: url };
}

/**
 * The app over `database`. Outside CELINE_ENV=dev it throws, naming every problem, while the
 * configuration is insecure or the policy did not load: an edge entry refuses to serve as the other
 * entry points refuse to start.
 */
export function createEdgeApp(env: EdgeEnv, database: EdgeDatabase) {
  const telemetry = createTelemetry(env);
  const policy = env.OPA_URL
    ? opaPolicy(env.OPA_URL, telemetry.log)
    : compilePolicy(BUNDLED_POLICIES, "the bundle", telemetry.log);
  const problems = startProblems(env, policy, telemetry.log);
  if (problems.length > 0) {
    throw new Error(refusalOf("serve", problems));
  }
  // HTTP adapters only: publishing to the broker is the relay's, which does not run here.
  const platform = createPlatform({ env, log: telemetry.log, metrics: telemetry.metrics, mqtt: false });
  return composeApp(env, { ...telemetry, database, policy, platform });
}

export type EdgeApp = ReturnType<typeof createEdgeApp>;

/** A postgres.js pool for the process (Deno, Bun, Node): connections are opened on first use. */
export function connectEdgeDatabase(env: EdgeEnv, max?: number): Database {
  return connectPostgres({ url: env.DATABASE_URL, schema: env.DB_SCHEMA, max });
}

/** Cloudflare's limit of simultaneous outbound connections per request is 6; keep one spare. */
const PER_REQUEST_CONNECTIONS = 5;

type WaitUntil = { waitUntil(promise: Promise<unknown>): void };

/**
 * A database per request, for workerd: a socket there belongs to the request that opened it and
 * cannot serve the next one. `database` is what the app holds; inside `serve`, it is the current
 * request's postgres.js client, closed once the response body has been sent.
 */
export function requestScopedDatabase() {
  const current = new AsyncLocalStorage<Database>();
  const active = (): Database => {
    const database = current.getStore();
    if (!database) throw new Error("the database is used outside a request");
    return database;
  };
  const database: EdgeDatabase = {
    get db() {
      return active().db;
    },
    ping: () => active().ping(),
  };
  async function serve(env: EdgeEnv, ctx: WaitUntil, handle: () => Response | Promise<Response>) {
    const client = connectEdgeDatabase(env, PER_REQUEST_CONNECTIONS);
    let response: Response;
    try {
      response = await current.run(client, handle);
    } catch (error) {
      ctx.waitUntil(client.close());
      throw error;
    }
    if (!response.body) {
      ctx.waitUntil(client.close());
      return response;
    }
    // A streamed body (an export) still reads from the database after the handler returned.
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const close = () => client.close();
    ctx.waitUntil(response.body.pipeTo(writable).then(close, close));
    return new Response(readable, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  }
  return { database, serve };
}

function stringsOf(bindings: Record<string, unknown>): Env {
  const env: Env = {};
  for (const [key, value] of Object.entries(bindings)) if (typeof value === "string") env[key] = value;
  return env;
}
