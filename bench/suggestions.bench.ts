// GET /api/suggestions with a target on each of its 8 windows, for a member with 101 days of stored
// readings, through the real API process — the member's JWT checked, a policy decision, the four
// Digital Twin calls of a listing (profile, assets, community and per-device windows; the DT contract
// fake, in this process), one transaction (the member's live commitments, the offers upsert), then the
// targets' reads (the stored chunks every window's baseline reads, their held windows, their weeks) —
// under wrk at fixed concurrency, beside what it is measured against in the same run at the same
// concurrency:
//   - the same listing for a member of the same community with nothing stored (target null: no
//     baseline work — the listing as it was before targets, plus one empty chunk lookup);
//   - pgbench running the statements the listing sends (captured from the driver as the verb sends
//     them, transaction control included), as the list benchmark's ceiling does;
//   - a bare Hono route answering the same JSON body.
// Targets are measured in interleaved rounds; the median round counts.
// `bun run bench/suggestions.bench.ts [--write] [--connections=32] [--seconds=10] [--rounds=3]`
// --write rewrites the "List suggestions with targets" section of bench/RESULTS.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  addDays,
  createLogger,
  createMetrics,
  createZonedClock,
  isWeekend,
  listSuggestions,
  unconfiguredPlatform,
} from "@celine/core";
import { createTestCtx } from "@celine/core/testing";
import { type DtRow, startDigitalTwin, startEmbeddedBroker, startOidcIssuer } from "@celine/fakes";
import { createDigitalTwinClient } from "@celine/platform";
import { drizzle } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import { arg, createCleanups } from "./lib/cli.ts";
import { type BenchDatabase, createBenchDatabase, SCHEMA, seedCommitments } from "./lib/database.ts";
import { runPgbench } from "./lib/pgbench.ts";
import { apiEnv, brokerEnv, OUT_DIR, REPO, type ServerProcess, startServer } from "./lib/processes.ts";
import { describeMachine, fmt, formatTable, writeSection } from "./lib/results.ts";
import {
  describeCores,
  type Measurement,
  measureInRounds,
  perRequest,
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
const TZ = "Europe/Rome";
const COMMUNITY = "bench-rec";
const MEMBER = "bench-member";
const DEVICE = "meter-bench";
/** Same community, windows and DT answers; nothing stored for their meter. */
const FRESH = "bench-fresh";
const FRESH_DEVICE = "meter-fresh";
const STORED_DAYS = 101;
const OTHER_DEVICES = 2_000;
const OTHER_COMMITMENTS = 100_000;
const MEMBER_HISTORY = 40;
const DATABASE = "flex_bench_suggestions";

await requireTools(["wrk", "pgbench", "psql"]);
mkdirSync(OUT_DIR, { recursive: true });
const cleanups = createCleanups();

type TargetKey = "targets" | "fresh" | "pgbench" | "bare";

try {
  const db = await createBenchDatabase(DATABASE);
  cleanups.push(() => db.drop());
  const started = performance.now();
  await seed(db);
  console.log(`seeded in ${fmt(performance.now() - started)} ms`);

  const issuer = await startOidcIssuer({ tokenTtlSeconds: 3600 });
  cleanups.push(() => issuer.close());
  const dt = await startDigitalTwin({ issuer });
  cleanups.push(() => dt.close());
  seedDigitalTwin(dt);
  const broker = await startEmbeddedBroker();
  cleanups.push(() => broker.close());
  const env = apiEnv({
    databaseUrl: db.url,
    issuer,
    extra: {
      ...brokerEnv(broker.port),
      DIGITAL_TWIN_API_URL: dt.url,
      CELINE_OIDC_CLIENT_ID: "svc-flexibility",
      CELINE_OIDC_CLIENT_SECRET: "svc-flexibility-secret",
      COMMUNITY_TIMEZONE: TZ,
      // One member asking hundreds of times a second: the throughput is measured, not the abuse limit.
      RATE_LIMIT_READS_PER_MIN: "0",
    },
  });
  const api = await startServer({ name: "suggestions-api", script: "apps/api/bin/start.ts", env });
  cleanups.push(() => api.stop());

  const token = await issuer.mintParticipant(MEMBER, {}, { expiresIn: 3600 });
  const freshToken = await issuer.mintParticipant(FRESH, {}, { expiresIn: 3600 });
  const body = await checkedList(api, token, true);
  await checkedList(api, freshToken, false);

  const bodyFile = join(OUT_DIR, "suggestions-body.json");
  writeFileSync(bodyFile, body);
  const bare = await startServer({
    name: "suggestions-bare-hono",
    script: join(REPO, "bench/lib/bare-hono-server.ts"),
    env: { BODY_FILE: bodyFile },
  });
  cleanups.push(() => bare.stop());

  // The ceiling's statements: what the verb sends for this member, captured from the driver.
  const statements = await captureStatements(db, dt.url, token);
  const pgbench = toPgbench(statements);
  writeFileSync(join(OUT_DIR, "suggestions-pgbench.sql"), pgbench.script);
  const queries = statements.filter((s) => !/^\s*(begin|commit)\b/i.test(s.sql)).length;
  const chunkLoad = statements.find((s) => s.sql.includes("micro_kwh"));
  if (!chunkLoad) throw new Error("the listing sent no chunk load: are targets computed?");

  const path = "/api/suggestions";
  const load = { connections: CONNECTIONS, threads: THREADS };
  const targets: Target<TargetKey>[] = [
    {
      key: "targets",
      label: "API `GET /api/suggestions`, 8 targets",
      serverPid: api.pid,
      load: (seconds) => runWrk({ url: api.url + path, token, ...load, seconds }),
    },
    {
      key: "fresh",
      label: "API, same listing, nothing stored (targets null)",
      serverPid: api.pid,
      load: (seconds) => runWrk({ url: api.url + path, token: freshToken, ...load, seconds }),
    },
    {
      key: "pgbench",
      label: `ceiling: pgbench, the listing's ${queries} statements`,
      serverPid: null,
      load: (seconds) =>
        runPgbench({
          script: pgbench.script,
          variables: pgbench.variables,
          ...load,
          seconds,
          libpqEnv: db.libpqEnv,
        }),
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
    // The DT contract fake answers the API's calls from this process.
    extraGroups: { fake: (p) => p.pid === process.pid },
  });

  const plan = await explain(db, chunkLoad.sql, chunkLoad.params);
  const chunkRows = Number(/(\d+) rows\)/.exec(plan)?.[1] ?? 0);
  const version = await db.serverVersion();
  const m = {
    targets: median("targets"),
    fresh: median("fresh"),
    pgbench: median("pgbench"),
    bare: median("bare"),
  };
  const rps = (key: TargetKey) => m[key].load.requestsPerSecond;
  const vsFresh = rps("targets") / rps("fresh");
  const vsDb = rps("targets") / rps("pgbench");
  const cost = (x: Measurement) => sumCpu(x.cpu.groups) / x.load.requests;
  const perRequestOf = (group: string, x: Measurement) => (x.cpu.groups[group] ?? 0) / x.load.requests;
  const added = (group: string) => fmt(perRequestOf(group, m.targets) - perRequestOf(group, m.fresh), 3);
  const row = (target: Target<TargetKey>) =>
    roundsRow(target, m[target.key], rounds[target.key], ["postgres", "fake", "client"]);
  const section = [
    "## List suggestions with targets",
    "",
    `\`bun run bench/suggestions.bench.ts --write\` — ${describeMachine()}, PostgreSQL ${version} on the same host.`,
    "",
    `\`GET /api/suggestions\` for participant \`${MEMBER}\`: 8 windows (the next two weekdays, 09:00–20:00 in`,
    `Rome), each with its target (${fmt(body.length)} bytes), from ${STORED_DAYS} days of hourly readings stored for the`,
    `member's meter among ${fmt(OTHER_DEVICES * (STORED_DAYS - 1))} chunks of ${fmt(OTHER_DEVICES)} other devices; ${MEMBER_HISTORY} settled commitments`,
    `of theirs in the last 90 days (event days, weeks for the streak) among ${fmt(OTHER_COMMITMENTS)} of others. The real API process`,
    "(`apps/api/bin/start.ts`, `CELINE_ENV=dev`, default pool and log level, logs to a file) checks one RS256 JWT",
    "(verified once, then cached), takes a policy decision, makes the listing's four Digital Twin calls with the",
    "member's token to the DT contract fake (which verifies that JWT on every call; it runs in the benchmark",
    'process: the "DT fake" column), then its transaction and the targets\' reads. Measured against, in the same run:',
    `the same listing for \`${FRESH}\` (same community, windows and DT answers, nothing stored: every`,
    "target null, no baseline work — the listing as it was before targets, plus one empty chunk lookup);",
    `pgbench (\`-n -M prepared -c ${CONNECTIONS} -j ${THREADS} -T ${SECONDS}\`) running the ${queries} statements the verb sent for this`,
    "member, captured from the driver as sent (the transaction of the live commitments and the offers upsert, then",
    "the targets' chunk load and, side by side in the API, held windows and weeks) — the list benchmark's ceiling; a bare",
    `Hono route answering the same body. Load: \`wrk -t${THREADS} -c${CONNECTIONS} -d${SECONDS}s\`; a ${WARMUP_SECONDS} s warm-up per target, then`,
    `${ROUNDS} interleaved rounds; the median round is shown. CPU columns: ms of CPU per request from /proc;`,
    `"other" is the share of the machine used by unrelated processes (it was ${fmt(100 * busyBefore, 0)} % busy just before`,
    `the first round). Everything shares the same ${describeCores()}.`,
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
        "DT fake CPU ms/req",
        "client CPU ms/req",
        "other %",
      ],
      ...targets.map(row),
    ]),
    "",
    `With targets / without = ${fmt(vsFresh, 2)} (goal ≥ 0.5, i.e. not slower than 2× the listing without targets:`,
    `${vsFresh >= 0.5 ? "met" : "NOT met"}); API / pgbench = ${fmt(vsDb, 2)} (the list benchmark's goal ≥ 0.5: ${vsDb >= 0.5 ? "met" : "NOT met"}); API / bare`,
    `Hono = ${fmt(rps("targets") / rps("bare"), 2)}. CPU of one request, all processes together: with targets ${fmt(cost(m.targets), 2)} ms,`,
    `without ${fmt(cost(m.fresh), 2)} ms (of which the DT fake ${perRequest(m.targets.cpu.groups.fake, m.targets)} / ${perRequest(m.fresh.cpu.groups.fake, m.fresh)}), pgbench transaction ${fmt(cost(m.pgbench), 2)} ms.`,
    "",
    `What the targets add per request: ${added("server")} ms of the API's CPU (the baselines of 8 windows from`,
    `${fmt(chunkRows)} stored days, reading them, two more queries) and ${added("postgres")} ms of PostgreSQL's. The`,
    "ceiling leaves out what every listing does besides the database (the four DT calls, the fake answering",
    `them): the listing without targets reaches ${fmt(rps("fresh") / rps("pgbench"), 2)} of it. Rounds vary with what else the machine runs ("other").`,
    "",
    `The chunk load (EXPLAIN ANALYZE, one execution): ${plan}`,
  ].join("\n");
  console.log(`\n${section}`);
  if (process.argv.includes("--write")) writeSection("List suggestions with targets", section);
} finally {
  await cleanups.cleanUp();
}

/** Stored readings, commitments of the member and of others, in bulk SQL; then VACUUM ANALYZE. */
async function seed(db: BenchDatabase): Promise<void> {
  await seedCommitments(db.sql, {
    rows: OTHER_COMMITMENTS,
    member: "bench-other",
    memberRows: 0,
    others: 900,
  });
  // Chunks: one UTC day of 24 hourly readings (µkWh), the last STORED_DAYS days before today;
  // older than the 7-day restatement horizon → final, as settlement stores them.
  await db.sql`
    insert into flexibility_meter_chunks (device_id, chunk_start, user_id, interval_seconds, micro_kwh, fetched_at, final)
    select dev.device_id, d, dev.user_id, 3600,
      array(select (300000 + ((extract(epoch from d)::bigint / 86400 * 37 + h * 11 + dev.n) % 500) * 1000)::bigint
            from generate_series(0, 23) h),
      d + interval '1 day 1 hour', d < now() - interval '8 days'
    from (select ${DEVICE} as device_id, ${MEMBER} as user_id, 0 as n
          union all
          select 'device-' || g, 'member-' || g, g from generate_series(1, ${OTHER_DEVICES - 1}) g) dev,
      generate_series(date_trunc('day', now()) - ${`${STORED_DAYS} days`}::interval,
                      date_trunc('day', now()) - interval '1 day', interval '1 day') d`;
  // The member's history: a settled commitment every other day or so, at varied hours (some are
  // event days for the windows' clock hours), delivered or not.
  await db.sql`
    insert into flexibility_commitments (user_id, suggestion_id, community_id, device_id, period_start,
      period_end, committed_at, settled_at, status, reward_points_estimated, reward_points_actual,
      settlement_outcome, settlement_raw, settlement_revision)
    select ${MEMBER}, 'history-' || g, ${COMMUNITY}, ${DEVICE}, s, s + interval '2 hours', s - interval '1 day',
      s + interval '1 day', 'settled', 20, case when g % 3 = 0 then 0 else 20 end,
      case when g % 3 = 0 then 'not_delivered' else 'delivered' end,
      case when g % 3 = 0 then null else 20 end, 1
    from generate_series(1, ${MEMBER_HISTORY}) g,
      lateral (select date_trunc('hour', now()) - g * interval '2 days 3 hours' as s) w`;
  await db.sql`vacuum analyze flexibility_meter_chunks`;
  await db.sql`vacuum analyze flexibility_commitments`;
}

/** Both members in one community; 8 windows with a personal estimate each. */
function seedDigitalTwin(dt: Awaited<ReturnType<typeof startDigitalTwin>>): void {
  const clock = createZonedClock(TZ);
  // The next two weekdays: a weekday window's baseline reads the 64 weekdays of its 90 days (a
  // weekend window only the 26 weekend days), so whatever day the benchmark runs on, it measures the
  // heavier case.
  const weekdays: string[] = [];
  for (let date = addDays(clock.local(new Date()).date, 1); weekdays.length < 2; date = addDays(date, 1)) {
    if (!isWeekend(date)) weekdays.push(date);
  }
  const naive = (d: Date) => d.toISOString().slice(0, 19);
  const rows: DtRow[] = [];
  for (const date of weekdays) {
    for (const [from, to] of [
      [9, 11],
      [11, 14],
      [14, 16],
      [17, 20],
    ] as const) {
      const start = clock.instant(date, from * 3_600_000);
      const end = clock.instant(date, to * 3_600_000);
      rows.push({
        _id: `w-${date}-${from}`,
        ts_date: date,
        window_start: naive(start),
        window_end: naive(end),
        community_kwh: 20 + from,
        confidence: 0.8,
        flexibility_model: "bench",
      });
    }
  }
  dt.setCommunityWindows(COMMUNITY, rows);
  for (const [sub, device] of [
    [MEMBER, DEVICE],
    [FRESH, FRESH_DEVICE],
  ] as const) {
    dt.setProfile(sub, { sub, email: `${sub}@bench.test` });
    dt.setMembership(sub, {
      community: { key: COMMUNITY, name: COMMUNITY },
      member: { key: sub, name: sub, role: "consumer", area: "bench", status: "active" },
    });
    dt.setAssets(sub, [{ asset_type: "smart_meter", key: `${sub}-meter`, name: "meter", sensor_id: device }]);
    dt.setDeviceWindows(
      sub,
      rows.map((w, i) => ({
        _id: `dev-${String(w._id)}`,
        window_start: w.window_start,
        window_end: w.window_end,
        community_kwh: w.community_kwh,
        estimated_kwh: 1 + i / 10,
        reward_points_estimated: 15 + i,
        confidence: 0.9,
      })),
      device,
    );
  }
}

/** One listing before the load: 200, 8 items, every target present (or, nothing stored, every one null). */
async function checkedList(api: ServerProcess, token: string, stored: boolean): Promise<string> {
  const res = await fetch(`${api.url}/api/suggestions`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /api/suggestions answered ${res.status}: ${text}`);
  const items = JSON.parse(text) as { target: unknown }[];
  const withTarget = items.filter((i) => i.target !== null).length;
  if (items.length !== 8 || withTarget !== (stored ? 8 : 0)) {
    throw new Error(
      `GET /api/suggestions: ${items.length} items, ${withTarget} with a target: ${text.slice(0, 500)}`,
    );
  }
  return text;
}

type Statement = { sql: string; params: unknown[] };

/** The statements listSuggestions sends for `token`'s member, run once in this process with a logging driver. */
async function captureStatements(db: BenchDatabase, dtUrl: string, token: string): Promise<Statement[]> {
  const captured: Statement[] = [];
  // The driver's own debug hook: every statement as sent, transaction control included.
  const client = postgres(db.url, {
    max: 1,
    onnotice: () => {},
    connection: { search_path: SCHEMA, TimeZone: "UTC" },
    debug: (_connection, query, params) => void captured.push({ sql: query, params }),
  });
  try {
    const logged = drizzle(client);
    const log = createLogger({ level: "silent" });
    const metrics = createMetrics();
    const ctx = createTestCtx({
      db: logged,
      actor: { kind: "participant", id: MEMBER, clientId: null, scopes: [], roles: [] },
      authorizer: async () => ({ allow: true, reason: "the benchmark captures statements" }),
      credentials: token,
      platform: {
        ...unconfiguredPlatform,
        dt: createDigitalTwinClient({
          baseUrl: dtUrl,
          tokens: { token: () => Promise.reject(new Error("no service token in the benchmark")) },
          metrics,
          log,
        }),
      },
    });
    // The driver asks for the server's array types once per connection: not part of a listing.
    await client`select 1`;
    captured.length = 0;
    const items = await listSuggestions({ ctx });
    if (items.filter((i) => i.target !== null).length !== 8)
      throw new Error("the capture's listing had no targets");
  } finally {
    await client.end({ timeout: 5 });
  }
  return captured;
}

/** The statements as one pgbench script, transaction control as sent: `$n` of statement k → `:s{k}p{n}`, values as text. */
function toPgbench(statements: Statement[]): { script: string; variables: Record<string, string> } {
  const variables: Record<string, string> = {};
  const lines: string[] = [];
  statements.forEach((statement, k) => {
    lines.push(
      `${statement.sql
        .replace(/\$(\d+)/g, (_, n) => `:s${k}p${n}`)
        .replace(/\s+/g, " ")
        .trim()};`,
    );
    statement.params.forEach((value, i) => {
      variables[`s${k}p${i + 1}`] = asText(value);
    });
  });
  lines.push("");
  return { script: lines.join("\n"), variables };
}

function asText(value: unknown): string {
  if (value === null || value === undefined) throw new Error("pgbench variables cannot be NULL");
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value))
    return `{${value.map((v) => `"${String(v).replace(/(["\\])/g, "\\$1")}"`).join(",")}}`;
  return String(value);
}

type PlanNode = { "Node Type": string; "Index Name"?: string; "Actual Rows"?: number; Plans?: PlanNode[] };

/** The plan as one line, depth first, with index names and row counts. */
async function explain(db: BenchDatabase, sql: string, params: unknown[]): Promise<string> {
  type Explained = { "QUERY PLAN": { Plan: PlanNode; "Execution Time": number }[] };
  // postgres.js serialises a `::json` parameter itself: hand it the value, not drizzle's JSON text.
  const values = params.map((p) => {
    if (typeof p !== "string" || !/^[[{]/.test(p)) return p;
    try {
      return JSON.parse(p);
    } catch {
      return p; // an array literal, not JSON
    }
  });
  const [row] = await db.sql.unsafe<Explained[]>(`explain (analyze, format json) ${sql}`, values as never[]);
  const [plan] = row?.["QUERY PLAN"] ?? [];
  if (!plan) return "?";
  const steps: string[] = [];
  const visit = (node: PlanNode) => {
    const details = [
      node["Index Name"] ? `\`${node["Index Name"]}\`` : "",
      `${fmt(node["Actual Rows"] ?? 0)} row${node["Actual Rows"] === 1 ? "" : "s"}`,
    ].filter(Boolean);
    steps.push(`${node["Node Type"]} (${details.join(", ")})`);
    for (const child of node.Plans ?? []) visit(child);
  };
  visit(plan.Plan);
  return `${steps.join(" → ")}; ${fmt(plan["Execution Time"], 2)} ms`;
}
