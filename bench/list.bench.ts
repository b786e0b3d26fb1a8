// GET /api/commitments (a page of 50 of one member's 10,000 commitments) through the real API
// process — JWT verified once then cached, a policy decision, page + total in one statement —
// under wrk at fixed concurrency, beside two ceilings measured in the same run at the same
// concurrency: pgbench running that same statement, and a bare Hono route
// answering the same JSON body. Targets are measured in interleaved rounds; the median round counts.
// `bun run bench/list.bench.ts [--write] [--profile] [--connections=32] [--seconds=10] [--rounds=3]`
// --write rewrites the "List commitments" section of bench/RESULTS.md; --profile adds a CPU profile
// of the API under the same load, split by stage.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { listPageStatement } from "@celine/core/db";
import { startEmbeddedBroker, startOidcIssuer } from "@celine/fakes";
import { arg, createCleanups } from "./lib/cli.ts";
import { type BenchDatabase, createBenchDatabase, seedCommitments } from "./lib/database.ts";
import { runPgbench } from "./lib/pgbench.ts";
import { apiEnv, brokerEnv, OUT_DIR, REPO, type ServerProcess, startServer } from "./lib/processes.ts";
import { LIST_STAGES, summariseProfile } from "./lib/profile.ts";
import { describeMachine, fmt, formatTable, writeSection } from "./lib/results.ts";
import {
  describeCores,
  type Measurement,
  measureInRounds,
  roundsRow,
  sumCpu,
  type Target,
} from "./lib/rounds.ts";
import { requireTools } from "./lib/tools.ts";
import { runWrk } from "./lib/wrk.ts";

const CONNECTIONS = arg("connections", 32);
const SECONDS = arg("seconds", 10);
const ROUNDS = arg("rounds", 3);
const WARMUP_SECONDS = 3;
const THREADS = 2;
const MEMBER = "bench-member";
const MEMBER_ROWS = 10_000;
const OTHER_ROWS = 90_000;
const OTHER_MEMBERS = 900;
const LIMIT = 50;
const DATABASE = "flex_bench_list";

await requireTools(["wrk", "pgbench", "psql"]);
mkdirSync(OUT_DIR, { recursive: true });

const cleanups = createCleanups();

type ListTarget = Target<"api" | "pgbench" | "bare">;

try {
  const db = await createBenchDatabase(DATABASE);
  cleanups.push(() => db.drop());
  const started = performance.now();
  await seedCommitments(db.sql, {
    rows: MEMBER_ROWS + OTHER_ROWS,
    member: MEMBER,
    memberRows: MEMBER_ROWS,
    others: OTHER_MEMBERS,
  });
  console.log(
    `seeded ${fmt(MEMBER_ROWS + OTHER_ROWS)} commitments in ${fmt(performance.now() - started)} ms`,
  );

  const issuer = await startOidcIssuer({ tokenTtlSeconds: 3600 });
  cleanups.push(() => issuer.close());
  // One token for the whole run: verified on the first request, then answered from the cache.
  const token = await issuer.mintParticipant(MEMBER, {}, { expiresIn: 3600 });
  // The API process runs the outbox relay: give it a broker of its own (nothing is published here).
  const broker = await startEmbeddedBroker();
  cleanups.push(() => broker.close());
  const env = apiEnv({ databaseUrl: db.url, issuer, extra: brokerEnv(broker.port) });

  const api = await startServer({ name: "list-api", script: "apps/api/bin/start.ts", env });
  cleanups.push(() => api.stop());
  const path = `/api/commitments?limit=${LIMIT}`;
  const body = await checkedPage(api, path, token);

  // Ceiling (b) answers the very body the API answered, re-serialised per request.
  const bodyFile = join(OUT_DIR, "list-body.json");
  writeFileSync(bodyFile, body);
  const bare = await startServer({
    name: "list-bare-hono",
    script: join(REPO, "bench/lib/bare-hono-server.ts"),
    env: { BODY_FILE: bodyFile },
  });
  cleanups.push(() => bare.stop());

  // Ceiling (a): the prepared statement the list verb sends, built by the verb's own function.
  const pageQuery = listPageStatement({ owner: MEMBER, status: undefined, limit: LIMIT, offset: 0 });
  const pgbenchScript = [`${toPgbench(pageQuery.sql)};`, ""];
  const variables = Object.fromEntries(pageQuery.params.map((p, i) => [`p${i + 1}`, String(p)]));

  const load = { connections: CONNECTIONS, threads: THREADS };
  const targets: ListTarget[] = [
    {
      key: "api",
      label: "API `GET /api/commitments`",
      serverPid: api.pid,
      load: (seconds) => runWrk({ url: api.url + path, token, ...load, seconds }),
    },
    {
      key: "pgbench",
      label: "ceiling: pgbench, same SELECT",
      serverPid: null,
      load: (seconds) =>
        runPgbench({ script: pgbenchScript.join("\n"), variables, ...load, seconds, libpqEnv: db.libpqEnv }),
    },
    {
      key: "bare",
      label: "ceiling: bare Hono route, same body",
      serverPid: bare.pid,
      load: (seconds) => runWrk({ url: `${bare.url}/`, ...load, seconds }),
    },
  ];

  const { busyBefore, rounds, median } = await measureInRounds(targets, {
    rounds: ROUNDS,
    seconds: SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    database: DATABASE,
  });

  const plan = await explain(db, pageQuery.sql, pageQuery.params);
  const profile = process.argv.includes("--profile") ? await profileApi(env, path, token) : null;
  const version = await db.serverVersion();

  const api_ = median("api");
  const pg_ = median("pgbench");
  const bare_ = median("bare");
  const ratioDb = api_.load.requestsPerSecond / pg_.load.requestsPerSecond;
  const ratioBare = api_.load.requestsPerSecond / bare_.load.requestsPerSecond;
  const cost = (m: Measurement) => sumCpu(m.cpu.groups) / m.load.requests;
  const apiCost = cost(api_);
  const pgCost = cost(pg_);
  const row = (target: ListTarget, m: Measurement) =>
    roundsRow(target, m, rounds[target.key], ["postgres", "client"]);
  const [apiTarget, pgTarget, bareTarget] = targets as [ListTarget, ListTarget, ListTarget];
  const section = [
    "## List commitments",
    "",
    `\`bun run bench/list.bench.ts --write${profile ? " --profile" : ""}\` — ${describeMachine()}, PostgreSQL ${version} on the same host.`,
    "",
    `\`GET /api/commitments?limit=${LIMIT}\`: participant \`${MEMBER}\` owns ${fmt(MEMBER_ROWS)} of`,
    `${fmt(MEMBER_ROWS + OTHER_ROWS)} commitments; each answer is a page of ${LIMIT} (${fmt(body.length)} bytes) with`,
    `\`total\` ${fmt(MEMBER_ROWS)}. The real API process (\`apps/api/bin/start.ts\`, \`CELINE_ENV=dev\`, default`,
    "database pool and log level, logs to a file) checks one RS256 JWT from the contract OIDC issuer",
    "(verified once, then from the verification cache) and takes a Rego policy decision per request.",
    `Load: \`wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s\`; database ceiling: \`pgbench -n -M prepared -c ${CONNECTIONS} -j ${THREADS} -T ${SECONDS}\``,
    "running the one prepared statement the list verb sends (the page, with the total as a scalar subquery),",
    `built by the verb's own \`listPageStatement\`. A ${WARMUP_SECONDS} s warm-up per target, then ${ROUNDS} interleaved rounds; the table shows`,
    "the median round. CPU columns: milliseconds of CPU per request of the server process, of the",
    "PostgreSQL backends of the benchmark database and of the load generator, read from /proc during",
    `the round; "other" is the share of the machine used by unrelated processes (the machine was`,
    `${fmt(100 * busyBefore, 0)} % busy just before the first round). Everything shares the same ${describeCores()}.`,
    "",
    ...formatTable([
      [
        "target",
        "req/s",
        "rounds req/s",
        "p50 ms",
        "p99 ms",
        "server CPU ms/req",
        "PG CPU ms/req",
        "client CPU ms/req",
        "other %",
      ],
      row(apiTarget, api_),
      row(pgTarget, pg_),
      row(bareTarget, bare_),
    ]),
    "",
    `API / pgbench = ${fmt(ratioDb, 2)} (goal ≥ 0.5: ${ratioDb >= 0.5 ? "met" : "NOT met"}); API / bare Hono = ${fmt(ratioBare, 2)}.`,
    `CPU cost of one request, all processes together: API path ${fmt(apiCost, 2)} ms, pgbench transaction`,
    `${fmt(pgCost, 2)} ms — a ratio of ${fmt(pgCost / apiCost, 2)}, what API / pgbench tends to when the machine is`,
    "saturated by the benchmark alone (it does not depend on other processes' load, unlike req/s).",
    "",
    `Plan (EXPLAIN ANALYZE, one execution): ${plan}`,
    "",
    ...(plan.includes("Sort (")
      ? [
          `The page's ORDER BY is not served by an index: PostgreSQL fetches and sorts all ${fmt(MEMBER_ROWS)} of the`,
          `member's rows for every page of ${LIMIT}. Indexes on \`user_id\`: ${await userIndexes(db)}.`,
          "",
        ]
      : []),
    ...(profile
      ? [
          `CPU profile of the API process (Bun \`--cpu-prof\`, same load for ${SECONDS} s, ${fmt(profile.rps)} req/s while`,
          "profiled): share of its busy samples under each stage, inclusive (nested stages overlap).",
          "",
          ...formatTable([
            ["stage", "share of API CPU"],
            ...profile.stages.map((s) => [s.stage, `${fmt(100 * s.share, 1)} %`]),
          ]),
          "",
        ]
      : []),
  ].join("\n");
  console.log(`\n${section}`);
  if (process.argv.includes("--write")) writeSection("List commitments", section);
} finally {
  await cleanups.cleanUp();
}

/** drizzle's `$n` placeholders as pgbench variables `:pn` (pgbench prepares them as parameters). */
function toPgbench(sql: string): string {
  return sql.replace(/\$(\d+)/g, (_, n) => `:p${n}`);
}

/** One request before the load: the API answers 200 with a full page and the right total. */
async function checkedPage(api: ServerProcess, path: string, token: string): Promise<string> {
  const res = await fetch(api.url + path, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${text}`);
  const json = JSON.parse(text) as { items: unknown[]; total: number };
  if (json.items.length !== LIMIT || json.total !== MEMBER_ROWS) {
    throw new Error(
      `GET ${path}: ${json.items.length} items, total ${json.total}; expected ${LIMIT}, ${MEMBER_ROWS}`,
    );
  }
  return text;
}

type PlanNode = {
  "Node Type": string;
  "Index Name"?: string;
  "Sort Method"?: string;
  "Actual Rows"?: number;
  Plans?: PlanNode[];
};

/** The plan as one line, depth first (node → child → …), with index names, sort methods and row counts. */
async function explain(db: BenchDatabase, sql: string, params: unknown[]): Promise<string> {
  type Explained = { "QUERY PLAN": { Plan: PlanNode; "Execution Time": number }[] };
  const [row] = await db.sql.unsafe<Explained[]>(`explain (analyze, format json) ${sql}`, params as never[]);
  const [plan] = row?.["QUERY PLAN"] ?? [];
  if (!plan) return "?";
  const steps: string[] = [];
  const visit = (node: PlanNode) => {
    const details = [
      node["Index Name"] ? `\`${node["Index Name"]}\`` : "",
      node["Sort Method"] ?? "",
      `${fmt(node["Actual Rows"] ?? 0)} row${node["Actual Rows"] === 1 ? "" : "s"}`,
    ].filter(Boolean);
    steps.push(`${node["Node Type"]} (${details.join(", ")})`);
    for (const child of node.Plans ?? []) visit(child);
  };
  visit(plan.Plan);
  return `${steps.join(" → ")}; ${fmt(plan["Execution Time"], 2)} ms`;
}

/** Definitions of the commitments indexes that lead with user_id (what the list query could use). */
async function userIndexes(db: BenchDatabase): Promise<string> {
  const rows = await db.sql<{ def: string }[]>`
    select regexp_replace(indexdef, '^.* USING btree ', '') as def from pg_indexes
    where tablename = 'flexibility_commitments' and indexdef like '%USING btree (user_id%'`;
  return rows.map((r) => `\`${r.def}\``).join(", ");
}

/** A second API process with Bun's sampling profiler, under the same load, split by stage. */
async function profileApi(env: Record<string, string>, path: string, token: string) {
  const dir = join(OUT_DIR, "profile-list");
  rmSync(dir, { recursive: true, force: true });
  const profiled = await startServer({
    name: "list-api-profiled",
    script: "apps/api/bin/start.ts",
    env,
    bunArgs: ["--cpu-prof", `--cpu-prof-dir=${dir}`],
  });
  let rps = 0;
  try {
    await runWrk({ url: profiled.url + path, token, connections: CONNECTIONS, threads: THREADS, seconds: 2 });
    rps = (
      await runWrk({
        url: profiled.url + path,
        token,
        connections: CONNECTIONS,
        threads: THREADS,
        seconds: SECONDS,
      })
    ).requestsPerSecond;
  } finally {
    await profiled.stop();
  }
  return { rps, stages: summariseProfile(dir, LIST_STAGES) };
}
