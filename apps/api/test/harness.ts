import { join } from "node:path";
import { type Actor, createLogger, createMetrics, DEFAULT_CORE_CONFIG, type LogRecord } from "@celine/core";
import type { Database } from "@celine/core/db";
import { createTestDatabase } from "@celine/core/testing";
import { type OidcIssuer, startOidcIssuer } from "@celine/fakes";
import { createApp } from "../src/app.ts";
import type { AppDeps } from "../src/lib/app-env.ts";
import { createTokenVerifier } from "../src/lib/identity.ts";
import { loadPolicy } from "../src/lib/policy.ts";

export const POLICY_DIR = join(import.meta.dir, "../../../policies");

export type Harness = Awaited<ReturnType<typeof createHarness>>;

/**
 * The real app over a fresh database (PostgreSQL in CI, PGlite otherwise), the real policy, and
 * real JWT crypto from the contract OIDC issuer. Logs are captured, not printed.
 */
export async function createHarness(
  overrides: Partial<AppDeps> | ((issuer: OidcIssuer) => Partial<AppDeps> | Promise<Partial<AppDeps>>) = {},
) {
  const issuer: OidcIssuer = await startOidcIssuer();
  // A function override sees the issuer first: platform adapters and fakes need its URL and keys.
  const extra = typeof overrides === "function" ? await overrides(issuer) : overrides;
  const database: Database = await createTestDatabase();
  const logs: LogRecord[] = [];
  const sink = (record: LogRecord) => logs.push(record);
  const log = createLogger({ level: "debug", sink, fields: { logger: "app" } });
  const policy = await loadPolicy({ dir: POLICY_DIR, log });
  if (!policy.loaded) throw new Error(policy.detail);
  const deps: AppDeps = {
    database,
    authorizer: policy.authorizer,
    policy,
    verifier: createTokenVerifier({
      issuer: issuer.url,
      jwksUri: issuer.jwksUri,
      audience: issuer.audience,
      cooldownMs: 0,
    }),
    log,
    audit: createLogger({ level: "info", sink, fields: { logger: "audit" } }),
    core: DEFAULT_CORE_CONFIG,
    jwtHeaderName: "x-auth-request-access-token",
    docs: true,
    metrics: createMetrics(),
    ...extra,
  };
  const app = createApp(deps);

  return {
    app,
    deps,
    issuer,
    database,
    logs,
    audits: () => logs.filter((l) => l.logger === "audit"),
    call: (method: string, path: string, options?: CallOptions) => requestApp(app, method, path, options),
    participant: (sub: string) => issuer.mintParticipant(sub),
    service: (scopes: string[], clientId = "svc-test") => issuer.mintService(clientId, scopes),
    async close() {
      await database.close();
      await issuer.close();
    },
  };
}

export type CallOptions = { token?: string; body?: unknown; headers?: Record<string, string> };

/**
 * One request to `app` (the harness's, or one a test builds from its deps): `token` as the bearer, an
 * object `body` as JSON; the answer with its text and parsed JSON (null when it is not JSON).
 */
export async function requestApp(
  app: Pick<ReturnType<typeof createApp>, "request">,
  method: string,
  path: string,
  { token, body, headers = {} }: CallOptions = {},
) {
  const init: RequestInit = { method, headers: { ...headers } };
  const h = init.headers as Record<string, string>;
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    h["content-type"] ??= "application/json";
  }
  const response = await app.request(path, init);
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: response.status, headers: response.headers, text, json: json as Json };
}
// Responses are asserted field by field; a loose type keeps those assertions short.
// biome-ignore lint/suspicious/noExplicitAny: test-side JSON
export type Json = any;

export type TestActor = Actor;
