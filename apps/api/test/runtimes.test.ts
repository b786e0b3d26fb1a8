import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { MIGRATIONS_FOLDER } from "@celine/core/db";
import { createTestDatabase } from "@celine/core/testing";
import { type OidcIssuer, startOidcIssuer, type TestBroker, testBrokerUrl } from "@celine/fakes";
import { DEFAULT_FLEXIBILITY_CONFIG } from "@celine/platform/env";
import {
  buildEdge,
  type EdgeBundles,
  WORKER_COMPATIBILITY_DATE,
  WORKER_COMPATIBILITY_FLAGS,
} from "../bin/build-edge.ts";
import { BUNDLED_POLICIES } from "../src/edge.ts";
import { seedCommitment } from "./fixtures.ts";
import { POLICY_DIR } from "./harness.ts";
import { buildNodeBundle, nodeBinary, relayEnv, type ServerProcess, spawnServer } from "./server-process.ts";

// Edge-portable, proven: the same app (createApp, composed by src/compose.ts) in four runtimes, each
// a process of its own started from its entry point, all against one real PostgreSQL schema and the
// OIDC issuer fake — Bun (bin/start.ts as it is), Node (bin/node.ts bundled), Deno (bin/deno.ts
// bundled by build:edge) and workerd (bin/worker.ts bundled by build:edge, a Worker module). Deno and
// workerd come from npm (devDependencies `deno`, `workerd`); postgres.js talks to PostgreSQL over
// each runtime's own TCP sockets (node:net; Deno's; `cloudflare:sockets`).
//
// Without DATABASE_URL (the no-services pass) the runtimes are not started: Deno and workerd have no
// embedded database. The bundles are built and checked in both passes.

const realDatabase = Boolean(process.env.DATABASE_URL);
const MEMBER = "edge-alice";

let work: string;
let bundles: EdgeBundles;
let issuer: OidcIssuer | undefined;
let broker: TestBroker | undefined;
let database: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
let seeded: { id: string };
const servers: ServerProcess[] = [];

/** The configuration every runtime gets (the Bun and Node entries add what their assembly reads). */
function sharedEnv(schema: string, url: string, token: OidcIssuer): Record<string, string> {
  return {
    CELINE_ENV: "dev",
    DATABASE_URL: url,
    DB_SCHEMA: schema,
    CELINE_OIDC_BASE_URL: token.url,
    CELINE_OIDC_JWKS_URI: token.jwksUri,
    CELINE_OIDC_AUDIENCE: token.audience,
    JWKS_COOLDOWN_MS: "0",
    LOG_LEVEL: "info",
    PORT: "0",
  };
}

/** The Deno binary of the `deno` package's platform dependency (its bin shim would outlive a SIGTERM). */
function denoBinary(): string {
  const targets: Record<string, string> = {
    "linux x64": "linux-x64-glibc",
    "linux arm64": "linux-arm64-glibc",
    "darwin x64": "darwin-x64",
    "darwin arm64": "darwin-arm64",
  };
  const target = targets[`${process.platform} ${process.arch}`];
  if (!target) throw new Error(`no Deno binary on npm for ${process.platform} ${process.arch}`);
  return join(dirname(Bun.resolveSync(`@deno/${target}/package.json`, import.meta.dir)), "deno");
}

/** The workerd binary: the `workerd` package's main export is its path (from @cloudflare/workerd-*). */
function workerdBinary(): string {
  const { default: binary } = createRequire(import.meta.url)("workerd") as { default: string };
  return binary;
}

/**
 * A workerd config serving the bundled Worker on a free loopback port. The bindings are the Worker's
 * configuration (as vars and secrets are on Cloudflare); outbound traffic may reach loopback, where
 * this test's PostgreSQL and OIDC issuer are (a Worker may not by default).
 */
function workerdConfig(bindings: Record<string, string>): string {
  const text = (value: string) => JSON.stringify(value);
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "api", worker = .api),
    (name = "loopback", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "api")],
);
const api :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed "worker.js")],
  compatibilityDate = ${text(WORKER_COMPATIBILITY_DATE)},
  compatibilityFlags = [${WORKER_COMPATIBILITY_FLAGS.map(text).join(", ")}],
  bindings = [
${Object.entries(bindings)
  .map(([name, value]) => `    (name = ${text(name)}, text = ${text(value)}),`)
  .join("\n")}
  ],
  globalOutbound = "loopback",
);
`;
}

async function startRuntimes(url: string, schema: string, token: OidcIssuer, mqtt: string) {
  const env = sharedEnv(schema, url, token);
  // The Bun and Node entries read policies/ and the settlement method from files and run the relay.
  const assembled = { ...env, POLICY_DIR, FLEXIBILITY_CONFIG: DEFAULT_FLEXIBILITY_CONFIG };
  const nodeBundle = await buildNodeBundle(work);
  const workerConfig = join(dirname(bundles.worker), "workerd.capnp");
  await writeFile(workerConfig, workerdConfig(env));
  const started = await Promise.allSettled([
    spawnServer("bun", [process.execPath, join(import.meta.dir, "../bin/start.ts")], {
      cwd: work,
      env: { ...assembled, ...relayEnv(mqtt, "runtimes-bun") },
    }),
    spawnServer("node", [nodeBinary(), nodeBundle], {
      cwd: dirname(nodeBundle),
      env: { ...assembled, ...relayEnv(mqtt, "runtimes-node"), MIGRATIONS_DIR: MIGRATIONS_FOLDER },
    }),
    spawnServer("deno", [denoBinary(), "run", "--allow-net", "--allow-env", bundles.deno], {
      cwd: dirname(bundles.deno),
      env: { ...env, DENO_DIR: join(work, "deno-cache"), DENO_NO_UPDATE_CHECK: "1", NO_COLOR: "1" },
    }),
    spawnServer("workerd", [workerdBinary(), "serve", workerConfig], {
      cwd: dirname(workerConfig),
      env: {},
      listening: /Listening on http:\/\/127\.0\.0\.1:(\d+)/,
    }),
  ]);
  for (const result of started) if (result.status === "fulfilled") servers.push(result.value);
  const failed = started.find((result) => result.status === "rejected");
  if (failed?.status === "rejected") throw failed.reason;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "flex-runtimes-"));
  bundles = await buildEdge(join(work, "edge"));
  const url = process.env.DATABASE_URL;
  if (!url) return;
  issuer = await startOidcIssuer();
  broker = await testBrokerUrl();
  database = await createTestDatabase({ max: 2 });
  seeded = await seedCommitment(
    { database },
    { userId: MEMBER, communityId: "rec-edge", deviceId: "meter-edge", rewardPointsEstimated: 12 },
  );
  await startRuntimes(url, database.schema, issuer, broker.url);
}, 60_000);

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop()));
  await database?.close();
  await broker?.close();
  await issuer?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The source files a bundle was made of (bun marks each with a `// path` line). */
async function modulesOf(bundle: string): Promise<string[]> {
  const text = await readFile(bundle, "utf8");
  return [...text.matchAll(/^\/\/ (\S+)$/gm)].map((match) => match[1] ?? "");
}

describe("the edge bundles (bun run build:edge)", () => {
  const LEFT_OUT = [
    "node_modules/@electric-sql/pglite/",
    "packages/core/src/db/pglite.ts",
    "packages/core/src/outbox/relay",
    "packages/core/src/outbox/deliver.ts",
    "apps/listener/",
    "packages/core/src/db/migrations.ts",
  ];

  test.each([
    ["worker.js", "node_modules/postgres/cf/src/connection.js"],
    ["deno.mjs", "node_modules/postgres/src/connection.js"],
  ])(
    "%s carries the policy and the method, its postgres.js build, and no PGlite, relay or listener",
    async (name, driver) => {
      const modules = await modulesOf(join(dirname(bundles.worker), name));
      expect(modules).toContain("policies/flexibility.rego");
      expect(modules).toContain("config/flexibility.yaml");
      expect(modules).toContain(driver);
      const leaked = modules.filter((path) => LEFT_OUT.some((out) => path.startsWith(out)));
      expect(leaked, `modules that cannot run on the edge:\n${leaked.join("\n")}`).toEqual([]);
    },
  );

  test("bundles every policy module of policies/ (tests aside)", async () => {
    const files = (await readdir(POLICY_DIR)).filter((f) => f.endsWith(".rego") && !f.endsWith("_test.rego"));
    expect(BUNDLED_POLICIES.map((m) => m.path).sort()).toEqual(files.map((f) => `policies/${f}`).sort());
    for (const module of BUNDLED_POLICIES) {
      expect(module.source).toBe(await readFile(join(POLICY_DIR, "..", module.path), "utf8"));
    }
  });
});

const RUNTIMES = ["bun", "node", "deno", "workerd"] as const;

function server(name: (typeof RUNTIMES)[number]): ServerProcess {
  const found = servers.find((s) => s.name === name);
  if (!found) throw new Error(`${name} is not running`);
  return found;
}

async function ask(runtime: ServerProcess, path: string, token?: string) {
  const response = await fetch(`${runtime.url}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  const text = await response.text();
  const printed = `${runtime.name} ${path}: ${response.status} ${text}\n${runtime.name} printed:\n${runtime
    .output()
    .slice(-3000)}`;
  return { status: response.status, body: text ? (JSON.parse(text) as unknown) : null, printed };
}

describe.skipIf(!realDatabase)("the same app on Bun, Node, Deno and workerd against PostgreSQL", () => {
  test.each(RUNTIMES)("%s: GET /health and /ready (the database through its own sockets)", async (name) => {
    const health = await ask(server(name), "/health");
    expect(health.status, health.printed).toBe(200);
    expect(health.body).toEqual({ status: "ok" });
    const ready = await ask(server(name), "/ready");
    expect(ready.status, ready.printed).toBe(200);
    expect(ready.body).toMatchObject({ checks: { database: { ok: true }, policy: { ok: true } } });
  });

  test.each(RUNTIMES)("%s: GET /api/commitments is 401 without a token", async (name) => {
    const refused = await ask(server(name), "/api/commitments");
    expect(refused.status, refused.printed).toBe(401);
  });

  test.each(RUNTIMES)(
    "%s: a participant's GET /api/commitments lists the seeded commitment",
    async (name) => {
      if (!issuer) throw new Error("no issuer");
      const token = await issuer.mintParticipant(MEMBER);
      // Twice: on workerd each request has its own connection (a socket cannot serve the next request).
      for (const _ of [1, 2]) {
        const listed = await ask(server(name), "/api/commitments", token);
        expect(listed.status, listed.printed).toBe(200);
        expect(listed.body, listed.printed).toMatchObject({
          total: 1,
          items: [
            {
              id: seeded.id,
              user_id: MEMBER,
              community_id: "rec-edge",
              device_id: "meter-edge",
              status: "committed",
              reward_points_estimated: 12,
            },
          ],
        });
      }
    },
  );

  test("the four answer byte for byte the same", async () => {
    if (!issuer) throw new Error("no issuer");
    const token = await issuer.mintParticipant(MEMBER);
    const answers = await Promise.all(RUNTIMES.map((name) => ask(server(name), "/api/commitments", token)));
    for (const answer of answers) expect(answer.body, answer.printed).toEqual(answers[0]?.body);
  });

  test("the runtimes are the ones named", () => {
    expect(server("node").output()).toMatch(/"runtime":"node v(2\d|[3-9]\d)\./);
    expect(server("deno").output()).toMatch(/"runtime":"deno 2\./);
    expect(server("workerd").output()).toContain("Listening on http://127.0.0.1:");
  });
});

if (!realDatabase) {
  console.warn(
    "SKIPPED the four-runtime test's servers: they need the real PostgreSQL (DATABASE_URL); Deno and workerd have no embedded database",
  );
}
