// The abuse run (issue 14): one member floods POST /api/suggestions/{id}/respond at 1,000/s while
// 100 others use the API as the participant app does, against the real API process with its default
// rate limits. Each load has its own sender: the members an open-loop generator process (requests
// leave on schedule whatever the answers; latency from the scheduled moment, so a stalled server
// cannot hide its queue), the flood wrk (paced connections: a Bun fetch loop at 1,000/s would itself
// take a core of this 2-core machine). First the 100 members alone (the quiet p99), then the flood.
// Passes when the members' p99 under the flood stays within 2× the quiet p99, none of them is
// refused, and the flooder gets 429s (at most its writes limit answered otherwise).
// `bun run bench/abuse.bench.ts [--write] [--rate=1000] [--members=100] [--member-rate=1] [--seconds=30]`
// --write rewrites the "Abuse: one member flooding" section of bench/RESULTS.md.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_PER_MINUTE } from "@celine/api/server";
import { startNudgingTool, startOidcIssuer } from "@celine/fakes";
import { brokerUrl } from "./lib/broker.ts";
import { arg, createCleanups } from "./lib/cli.ts";
import {
  type CpuUsage,
  childNamed,
  type ProcessInfo,
  postgresBackendOf,
  startCpuAccounting,
  waitForQuiet,
} from "./lib/cpu.ts";
import { type BenchDatabase, createBenchDatabase } from "./lib/database.ts";
import {
  fireOpenLoop,
  type GeneratorArgs,
  generate,
  isGenerator,
  MAX_IN_FLIGHT,
  type OpenLoopLoad,
  runGenerator,
} from "./lib/open-loop.ts";
import { apiEnv, OUT_DIR, startServer } from "./lib/processes.ts";
import { describeMachine, fmt, formatTable, writeSection } from "./lib/results.ts";
import { requireTools } from "./lib/tools.ts";
import { runPacedWrk } from "./lib/wrk.ts";

const WINDOW = "w-abuse";
const DATABASE = "flex_bench_abuse";
const FLOODER = "flooder";
/** A member's requests, in turn: the participant app's list (three times) and an accept (idempotent after the first). */
const CYCLE = ["list", "list", "accept", "list"] as const;

if (isGenerator()) {
  await generate(fireMembers);
  process.exit(0);
}

const RATE = arg("rate", 1_000);
const MEMBERS = arg("members", 100);
/** Requests per second of each member (the participant app polls; a person taps now and then). */
const MEMBER_RATE = arg("member-rate", 1);
const SECONDS = arg("seconds", 30);
const WARMUP_SECONDS = 5;
/** wrk's connections for the flood, each pausing so that together they offer RATE a second. */
const FLOOD_CONNECTIONS = 20;

await requireTools(["wrk"]);
mkdirSync(OUT_DIR, { recursive: true });
const cleanups = createCleanups();

try {
  const db = await createBenchDatabase(DATABASE);
  cleanups.push(() => db.drop());
  const issuer = await startOidcIssuer({ tokenTtlSeconds: 7200 });
  cleanups.push(() => issuer.close());
  const nudging = await startNudgingTool({ issuer });
  cleanups.push(() => nudging.close());
  const broker = await brokerUrl();
  cleanups.push(broker.close);

  const members = Array.from({ length: MEMBERS }, (_, i) => `member-${i + 1}`);
  await seedOffers(db, [...members, FLOODER]);
  await seedHistory(db, members);
  const mint = (sub: string) =>
    issuer.mint(
      {
        iss: issuer.url,
        aud: issuer.audience,
        sub,
        email: `${sub}@example.org`,
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 7200,
      },
      { alg: "ES256" },
    );
  const tokens = await Promise.all(members.map(mint));
  const othersPlan = writePlan(
    "others",
    Array.from({ length: MEMBERS * CYCLE.length }, (_, k) => {
      // Request k goes to member k mod MEMBERS: each member's requests are evenly spread in time.
      const kind = CYCLE[Math.floor(k / MEMBERS) % CYCLE.length] ?? "list";
      return requestOf(kind, tokens[k % MEMBERS] ?? "");
    }),
  );
  const flooderToken = await mint(FLOODER);

  const nudgingUrl = new URL(nudging.url);
  const mqttUrl = new URL(broker.url);
  const limits = {
    RATE_LIMIT_READS_PER_MIN: String(DEFAULT_PER_MINUTE.reads),
    RATE_LIMIT_WRITES_PER_MIN: String(DEFAULT_PER_MINUTE.writes),
    RATE_LIMIT_EXPORT_PER_MIN: String(DEFAULT_PER_MINUTE.export),
    RATE_LIMIT_FEED_PER_MIN: String(DEFAULT_PER_MINUTE.feed),
    RATE_LIMIT_UNAUTHENTICATED_PER_MIN: String(DEFAULT_PER_MINUTE.unauthenticated),
  };
  const api = await startServer({
    name: "abuse-api",
    script: "apps/api/bin/start.ts",
    env: apiEnv({
      databaseUrl: db.url,
      issuer,
      extra: {
        ...limits,
        CELINE_OIDC_CLIENT_ID: "svc-flexibility",
        CELINE_OIDC_CLIENT_SECRET: "svc-flexibility-secret",
        NUDGING_API_URL: nudgingUrl.origin,
        // Never called: every accept finds its offer, which names community and device.
        DIGITAL_TWIN_API_URL: "http://127.0.0.1:9",
        CELINE_MQTT_HOST: mqttUrl.hostname,
        CELINE_MQTT_PORT: mqttUrl.port || "1883",
        CELINE_MQTT_TOPIC_PREFIX: `bench${crypto.randomUUID().slice(0, 8)}`,
      },
    }),
  });
  cleanups.push(() => api.stop());

  const othersRate = MEMBERS * MEMBER_RATE;
  console.log(`warm-up: ${fmt(othersRate)} req/s for ${WARMUP_SECONDS} s…`);
  await generateLoad("warm", api.url, othersPlan, othersRate, WARMUP_SECONDS);

  const cpuGroups = {
    api: (p: ProcessInfo) => p.pid === api.pid,
    postgres: postgresBackendOf(DATABASE),
    senders: (p: ProcessInfo) => p.cmdline.includes("abuse.bench.ts --generator") || childNamed("wrk")(p),
  };
  const quietBusy = await waitForQuiet();
  console.log(`quiet: ${MEMBERS} members at ${fmt(othersRate)} req/s for ${SECONDS} s…`);
  let cpu = startCpuAccounting(cpuGroups);
  const quiet = await generateLoad("quiet", api.url, othersPlan, othersRate, SECONDS);
  const quietCpu = cpu.stop();
  report("quiet", quiet);

  const floodBusy = await waitForQuiet();
  console.log(`flood: the same, and one member at ${fmt(RATE)} req/s…`);
  cpu = startCpuAccounting(cpuGroups);
  const [loaded, flood] = await Promise.all([
    generateLoad("loaded", api.url, othersPlan, othersRate, SECONDS),
    runPacedWrk({
      url: `${api.url}/api/suggestions/${WINDOW}/respond`,
      token: flooderToken,
      method: "POST",
      body: JSON.stringify({ response: "accepted" }),
      connections: FLOOD_CONNECTIONS,
      threads: 1,
      seconds: SECONDS,
      // A millisecond less than the even share: the answers' own latency would otherwise slow the rate.
      pauseMs: Math.max(0, Math.floor((FLOOD_CONNECTIONS * 1000) / RATE) - 1),
    }),
  ]);
  const floodCpu = cpu.stop();
  report("members under the flood", loaded);
  console.log(
    `flooder: ${fmt(flood.requestsPerSecond, 1)} answered/s, p50 ${fmt(flood.p50Ms, 1)} ms, p99 ${fmt(flood.p99Ms, 1)} ms, ${JSON.stringify(flood.statuses)}`,
  );
  await api.stop();

  const ratio = loaded.p99 / Math.max(quiet.p99, 0.001);
  const admittedFlood = count(flood.statuses, (s) => s !== "429");
  const floodAnswers = count(flood.statuses, () => true);
  const refusedMembers =
    count(quiet.statuses, (s) => s === "429") + count(loaded.statuses, (s) => s === "429");
  // The flooder's first window admits its writes limit; a run longer than a minute, one more per window.
  const floodAllowance = DEFAULT_PER_MINUTE.writes * Math.ceil(SECONDS / 60);
  const checks = [
    { what: `members' p99 under the flood ≤ 2 × quiet p99 (${fmt(ratio, 2)}×)`, ok: ratio <= 2 },
    {
      what: `the flooder got 429s (${fmt(count(flood.statuses, (s) => s === "429"))} at ${fmt(flood.requestsPerSecond)}/s)`,
      ok: (flood.statuses["429"] ?? 0) > 0,
    },
    {
      what: `the flooder was answered otherwise at most ${floodAllowance} times (${fmt(admittedFlood)})`,
      ok: admittedFlood <= floodAllowance,
    },
    { what: `no member was refused (${refusedMembers} × 429)`, ok: refusedMembers === 0 },
    {
      what: "every member request was answered",
      ok: quiet.failed + loaded.failed + quiet.notSent + loaded.notSent === 0,
    },
  ];
  for (const c of checks) console.log(`${c.ok ? "ok  " : "FAIL"} ${c.what}`);
  const version = await db.serverVersion();

  const perAnswer = (usage: CpuUsage, answered: number, group: string) =>
    fmt((usage.groups[group] ?? 0) / Math.max(1, answered), 2);
  const answers = (statuses: Record<string, number>) =>
    Object.entries(statuses)
      .map(([status, n]) => `${status}: ${fmt(n)}`)
      .join(", ");
  const row = (name: string, rate: number, r: OpenLoopLoad) => [
    name,
    fmt(rate),
    fmt(r.throughput, 1),
    fmt(r.p50, 1),
    fmt(r.p99, 1),
    fmt(r.max, 1),
    answers(r.statuses),
    fmt(r.notSent),
    fmt(r.failed),
  ];
  const table = formatTable([
    ["load", "offered /s", "answered /s", "p50 ms", "p99 ms", "max ms", "answers", "not sent", "failed"],
    row(`${MEMBERS} members, quiet`, othersRate, quiet),
    row(`${MEMBERS} members, under the flood`, othersRate, loaded),
    [
      `the flooder (wrk, ${FLOOD_CONNECTIONS} paced connections)`,
      `~${fmt(RATE)}`,
      fmt(flood.requestsPerSecond, 1),
      fmt(flood.p50Ms, 1),
      fmt(flood.p99Ms, 1),
      "–",
      answers(flood.statuses),
      "–",
      fmt(flood.errors - count(flood.statuses, (s) => s !== "200")),
    ],
  ]);
  const section = [
    "## Abuse: one member flooding",
    "",
    `\`bun run bench/abuse.bench.ts --write\` — ${describeMachine()}, PostgreSQL ${version} on the same host.`,
    "",
    `${MEMBERS} members use the API as the participant app does, ${fmt(MEMBER_RATE)} request a second each (${fmt(othersRate)}/s in all, in`,
    "turn: `GET /api/commitments?limit=50` three times, then `POST /api/suggestions/w-abuse/respond",
    '{"response":"accepted"}` — a commitment the first time, the same answer after), each with their own ES256',
    "JWT and an offer and 50 past commitments on record; first alone for the quiet p99, then while one more",
    `member sends the same accept ${fmt(RATE)} times a second. The members' load comes from an open-loop generator (a Bun`,
    `process firing on schedule whatever the answers, at most ${fmt(MAX_IN_FLIGHT)} in flight — beyond that a request counts as not`,
    "sent; latency from each request's scheduled moment); the flood from wrk, its connections pausing between",
    "requests so that together they offer the rate (its latency: from sending to the answer). The API is the real",
    "process (`apps/api/bin/start.ts`,",
    `default pool, log level and rate limits: writes ${DEFAULT_PER_MINUTE.writes}/min and reads ${DEFAULT_PER_MINUTE.reads}/min per member, in-process store), running`,
    `the outbox relay (broker: ${broker.kind}; nudging tool fake). ${SECONDS} s each, after a ${WARMUP_SECONDS} s warm-up of the members.`,
    "",
    ...table,
    "",
    ...checks.map((c) => `- ${c.ok ? "met" : "NOT MET"}: ${c.what}`),
    `- CPU per answered request, quiet: API ${perAnswer(quietCpu, quiet.answered, "api")} ms, PostgreSQL ${perAnswer(quietCpu, quiet.answered, "postgres")} ms;`,
    `  under the flood, per answer of either load: API ${perAnswer(floodCpu, loaded.answered + floodAnswers, "api")} ms, PostgreSQL ${perAnswer(floodCpu, loaded.answered + floodAnswers, "postgres")} ms`,
    `  (a 429 costs the API the token-cache lookup, one count and a log line). Senders: ${fmt((quietCpu.groups.senders ?? 0) / 1000, 1)} s and`,
    `  ${fmt((floodCpu.groups.senders ?? 0) / 1000, 1)} s of CPU; the rest of the machine ${fmt(quietCpu.other / 1000, 1)} s and ${fmt(floodCpu.other / 1000, 1)} s (it was`,
    `  ${fmt(100 * quietBusy)} % and ${fmt(100 * floodBusy)} % busy just before each run).`,
    "- With several replicas each counts its own callers (the default store is in-process): behind a",
    "  balancer spreading one member over n replicas the flooder gets up to n × the limit before the 429s.",
    "",
  ].join("\n");
  console.log(`\n${section}`);
  if (process.argv.includes("--write")) writeSection("Abuse: one member flooding", section);
  if (!checks.every((c) => c.ok)) process.exitCode = 1;
} finally {
  await cleanups.cleanUp();
}

// ————— the generator (a separate process, so its timing is not disturbed by the fakes) —————

type Planned = { method: string; path: string; token: string; body?: string };

function requestOf(kind: (typeof CYCLE)[number], token: string): Planned {
  return kind === "list"
    ? { method: "GET", path: "/api/commitments?limit=50", token }
    : {
        method: "POST",
        path: `/api/suggestions/${WINDOW}/respond`,
        token,
        body: JSON.stringify({ response: "accepted" }),
      };
}

function writePlan(tag: string, requests: Planned[]): string {
  const file = join(OUT_DIR, `abuse-${tag}.plan.json`);
  writeFileSync(file, JSON.stringify(requests));
  return file;
}

function generateLoad(tag: string, url: string, planFile: string, rate: number, seconds: number) {
  const out = join(OUT_DIR, `abuse-${tag}.out.json`);
  return runGenerator<OpenLoopLoad>("bench/abuse.bench.ts", { url, planFile, out, rate, seconds });
}

/** Fires the plan's requests in turn (round and round) at `rate` for `seconds`, open loop. */
function fireMembers({ url, planFile, rate, seconds }: GeneratorArgs): Promise<OpenLoopLoad> {
  const plan = JSON.parse(readFileSync(planFile, "utf8")) as Planned[];
  return fireOpenLoop({
    rate,
    total: Math.round(rate * seconds),
    send: (k) => {
      const request = plan[k % plan.length];
      if (!request) throw new Error("an empty plan");
      const headers: Record<string, string> = { authorization: `Bearer ${request.token}` };
      if (request.body) headers["content-type"] = "application/json";
      return fetch(url + request.path, { method: request.method, headers, body: request.body });
    },
  });
}

// ————— helpers of the main process —————

function report(name: string, r: OpenLoopLoad): void {
  console.log(
    `${name}: ${fmt(r.throughput, 1)} answered/s, p50 ${fmt(r.p50, 1)} ms, p99 ${fmt(r.p99, 1)} ms, ` +
      `max ${fmt(r.max, 1)} ms, ${JSON.stringify(r.statuses)}, not sent ${r.notSent}, failed ${r.failed}`,
  );
}

function count(statuses: Record<string, number>, which: (status: string) => boolean): number {
  return Object.entries(statuses).reduce((n, [s, c]) => n + (which(s) ? c : 0), 0);
}

/** Every member offered tomorrow's 09:00–12:00 UTC window `w-abuse` with 15 points. */
async function seedOffers(db: BenchDatabase, users: string[]): Promise<void> {
  await db.sql`
    insert into flexibility_offers (user_id, window_id, community_id, device_id, period_start, period_end,
      reward_points, impact_kwh, community_kwh)
    select u, ${WINDOW}, 'rec-bench', 'meter-' || u,
      date_trunc('day', now()) + interval '1 day 9 hours', date_trunc('day', now()) + interval '1 day 12 hours',
      15, 1.5, 40
    from unnest(${users}::text[]) u`;
}

/** 50 settled commitments of each member in the past weeks: what their list pages through. */
async function seedHistory(db: BenchDatabase, users: string[]): Promise<void> {
  await db.sql`
    insert into flexibility_commitments (user_id, suggestion_id, community_id, device_id, period_start,
      period_end, committed_at, created_at, settled_at, status, reward_points_estimated, reward_points_actual)
    select u, 'past-' || g, 'rec-bench', 'meter-' || u,
      w.start, w.start + interval '3 hours', w.start - interval '1 day', w.start - interval '1 day',
      w.start + interval '1 day', 'settled', 15, g % 20
    from unnest(${users}::text[]) u, generate_series(1, 50) g,
      lateral (select date_trunc('day', now()) - g * interval '1 day' + interval '9 hours' as start) w`;
  await db.sql`vacuum analyze flexibility_commitments`;
  await db.sql`vacuum analyze flexibility_offers`;
}
