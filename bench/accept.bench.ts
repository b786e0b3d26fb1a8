// The accept spike: POST /api/suggestions/{id}/respond {"response":"accepted"} offered at a fixed
// rate (open loop: requests leave on schedule whether or not earlier ones have answered; latency is
// measured from the scheduled moment, so a stalled server cannot hide its queue) against the real
// API process, which also runs the outbox relay (MQTT broker + nudging tool fake). Afterwards every
// answer is checked against the database, the broker and the nudging tool: lost = 0, duplicates = 0.
// Beside it, pgbench runs the statements one accept sends (two SELECTs, the commitment INSERT, the
// three outbox INSERTs, the NOTIFY, in one transaction) at the same offered rate and flat out.
// `bun run bench/accept.bench.ts [--write] [--rate=1000] [--seconds=60] [--steady-rate=300] [--steady-seconds=30]`
// --write rewrites the "Accept spike" section of bench/RESULTS.md.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { startNudgingTool, startOidcIssuer } from "@celine/fakes";
import mqtt from "mqtt";
import { brokerUrl } from "./lib/broker.ts";
import { arg, createCleanups } from "./lib/cli.ts";
import { type CpuUsage, postgresBackendOf, startCpuAccounting, waitForQuiet } from "./lib/cpu.ts";
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
import { runPgbench } from "./lib/pgbench.ts";
import { apiEnv, OUT_DIR, startServer } from "./lib/processes.ts";
import { describeMachine, fmt, formatTable, writeSection } from "./lib/results.ts";
import { requireTools } from "./lib/tools.ts";

/** Every `DUPLICATE_EVERY`-th request repeats an earlier member's accept (an impatient double tap). */
const DUPLICATE_EVERY = 10;
const WINDOW = "w-spike";
const DATABASE = "flex_bench_accept";

if (isGenerator()) {
  await generate(fireAccepts);
  process.exit(0);
}

const RATE = arg("rate", 1_000);
const SECONDS = arg("seconds", 60);
/** A rate this 2-core machine sustains with the whole stack on it (measured beside the spike). */
const STEADY_RATE = arg("steady-rate", 300);
const STEADY_SECONDS = arg("steady-seconds", 30);
const WARMUP_RATE = 200;
const WARMUP_SECONDS = 5;
const PGBENCH_CONNECTIONS = 16;
const CEILING_SECONDS = 20;

await requireTools(["pgbench", "psql"]);
mkdirSync(OUT_DIR, { recursive: true });
const cleanups = createCleanups();

try {
  const runs = [
    { tag: "spike", rate: RATE, seconds: SECONDS },
    { tag: "steady", rate: STEADY_RATE, seconds: STEADY_SECONDS },
  ];
  const requestsOf = (r: { rate: number; seconds: number }) => r.rate * r.seconds;
  const membersOf = (r: { rate: number; seconds: number }) =>
    requestsOf(r) - Math.floor(requestsOf(r) / DUPLICATE_EVERY);
  const setup = performance.now();
  const step = (what: string) => console.log(`${what} (${fmt(performance.now() - setup)} ms)`);
  const db = await createBenchDatabase(DATABASE);
  cleanups.push(() => db.drop());
  step("database");

  const issuer = await startOidcIssuer({ tokenTtlSeconds: 7200 });
  cleanups.push(() => issuer.close());
  // Counted as they arrive: one entry per (event type, commitment).
  const nudges = new Map<string, number>();
  const nudging = await startNudgingTool({
    issuer,
    onEvent: ({ event }) => {
      const key = `${event.event_type}|${event.facts.commitment_id}`;
      nudges.set(key, (nudges.get(key) ?? 0) + 1);
    },
  });
  cleanups.push(() => nudging.close());
  const broker = await brokerUrl();
  cleanups.push(broker.close);
  const prefix = `bench${crypto.randomUUID().slice(0, 8)}`;
  const messages = new Map<string, number>();
  step(`fakes; broker ${broker.url}`);
  const subscriber = await mqtt.connectAsync(broker.url, {
    clientId: `sub-${prefix}`,
    clean: true,
    connectTimeout: 5_000,
    reconnectPeriod: 0,
  });
  cleanups.push(() => subscriber.endAsync());
  subscriber.on("message", (_topic, payload) => {
    const id = String(JSON.parse(payload.toString()).commitment_id);
    messages.set(id, (messages.get(id) ?? 0) + 1);
  });
  await subscriber.subscribeAsync(`${prefix}/celine/flexibility/committed/+`, { qos: 1 });

  // One token per member (ES256: minting 50,000 RS256 tokens would take longer than the run).
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
  /** Offers and tokens for `<tag>-1…`; request k is the next member, or a repeat of one seven requests back. */
  const plan = async (tag: string, rate: number, seconds: number) => {
    const members = membersOf({ rate, seconds });
    // What GET /api/suggestions would have recorded: every member was offered tomorrow's window.
    await seedOffers(db, tag, members);
    const tokens: string[] = [];
    for (let i = 1; i <= members; i += 1) tokens.push(await mint(`${tag}-${i}`));
    const lines: string[] = [];
    let next = 0;
    for (let k = 0; k < rate * seconds; k += 1) {
      const repeat = (k + 1) % DUPLICATE_EVERY === 0 && k >= 7;
      const member = repeat ? Number(lines[k - 7]?.split(" ")[0]) : next++;
      lines.push(`${member} ${tokens[member % tokens.length]}`);
    }
    const file = join(OUT_DIR, `accept-${tag}.plan`);
    writeFileSync(file, `${lines.join("\n")}\n`);
    return file;
  };
  const prepared = performance.now();
  const warmPlan = await plan("warm", WARMUP_RATE, WARMUP_SECONDS);
  const plans = await Promise.all(runs.map((r) => plan(r.tag, r.rate, r.seconds)));
  console.log(
    `offers and tokens for ${fmt(runs.reduce((n, r) => n + membersOf(r), 0))} members in ${fmt(performance.now() - prepared)} ms`,
  );

  const nudgingUrl = new URL(nudging.url);
  const mqttUrl = new URL(broker.url);
  const profileDir = join(OUT_DIR, "profile-accept");
  const api = await startServer({
    name: "accept-api",
    script: "apps/api/bin/start.ts",
    // --profile: a CPU profile of the API process (spike included) into bench/out/profile-accept.
    bunArgs: process.argv.includes("--profile") ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
    env: apiEnv({
      databaseUrl: db.url,
      issuer,
      extra: {
        CELINE_OIDC_CLIENT_ID: "svc-flexibility",
        CELINE_OIDC_CLIENT_SECRET: "svc-flexibility-secret",
        NUDGING_API_URL: nudgingUrl.origin,
        // Never called: every accept finds its offer, which names community and device.
        DIGITAL_TWIN_API_URL: "http://127.0.0.1:9",
        CELINE_MQTT_HOST: mqttUrl.hostname,
        CELINE_MQTT_PORT: mqttUrl.port || "1883",
        CELINE_MQTT_TOPIC_PREFIX: prefix,
      },
    }),
  });
  cleanups.push(() => api.stop());

  console.log(`warm-up: ${WARMUP_RATE} req/s for ${WARMUP_SECONDS} s…`);
  await generateSpike(api.url, warmPlan, WARMUP_RATE, WARMUP_SECONDS);
  await drained(db, 120_000);

  const measured: {
    tag: string;
    rate: number;
    seconds: number;
    load: Spike;
    usage: CpuUsage;
    drainMs: number;
    check: Awaited<ReturnType<typeof verify>>;
    busyBefore: number;
  }[] = [];
  for (const [i, r] of runs.entries()) {
    const busyBefore = await waitForQuiet();
    console.log(`${r.tag}: ${fmt(r.rate)} req/s for ${r.seconds} s (${fmt(requestsOf(r))} requests)…`);
    const cpu = startCpuAccounting({
      api: (p) => p.pid === api.pid,
      postgres: postgresBackendOf(DATABASE),
      generator: (p) => p.cmdline.includes("accept.bench.ts --generator"),
    });
    const load = await generateSpike(api.url, plans[i] ?? "", r.rate, r.seconds);
    const ended = performance.now();
    const usage = cpu.stop();
    const drainMs = (await drained(db, 600_000)) ? performance.now() - ended : Number.NaN;
    // Late QoS 1 messages and nudges still in flight settle in well under a second.
    await Bun.sleep(1_000);
    const check = await verify(db, r.tag, load, messages, nudges);
    console.log(
      `${r.tag}: ${fmt(load.throughput, 1)} answered/s, p50 ${fmt(load.p50, 1)} ms, p99 ${fmt(load.p99, 1)} ms, ` +
        `${JSON.stringify(load.statuses)}, not sent ${load.notSent}; relay done ${fmt(drainMs / 1000, 1)} s after; ` +
        `lost ${check.lost}, duplicates ${check.duplicates}`,
    );
    measured.push({ ...r, load, usage, drainMs, check, busyBefore });
  }

  await api.stop();
  const ceilingScript = pgbenchScript();
  console.log(`pgbench at ${fmt(RATE)}/s for ${SECONDS} s…`);
  const pgbench = {
    script: ceilingScript,
    connections: PGBENCH_CONNECTIONS,
    threads: 2,
    libpqEnv: db.libpqEnv,
  };
  const atRate = await runPgbench({ ...pgbench, rate: RATE, seconds: SECONDS });
  console.log(`pgbench flat out for ${CEILING_SECONDS} s…`);
  const flatOut = await runPgbench({ ...pgbench, seconds: CEILING_SECONDS });
  const version = await db.serverVersion();

  const table = formatTable([
    [
      "",
      "offered /s",
      "answered /s",
      "p50 ms",
      "p99 ms",
      "max ms",
      "not sent",
      "failed",
      "lost",
      "duplicates",
    ],
    ...measured.map((m) => [
      `API accept, ${m.tag} (${m.seconds} s)`,
      fmt(m.rate),
      fmt(m.load.throughput, 1),
      fmt(m.load.p50, 1),
      fmt(m.load.p99, 1),
      fmt(m.load.max, 1),
      fmt(m.load.notSent),
      fmt(
        m.load.failed + Object.entries(m.load.statuses).reduce((n, [s, c]) => n + (s === "200" ? 0 : c), 0),
      ),
      fmt(m.check.lost),
      fmt(m.check.duplicates),
    ]),
    [
      `ceiling: pgbench, same statements (${SECONDS} s)`,
      fmt(RATE),
      fmt(atRate.requestsPerSecond, 1),
      fmt(atRate.p50Ms, 1),
      fmt(atRate.p99Ms, 1),
      fmt(atRate.maxMs, 1),
      "–",
      fmt(atRate.errors),
      "–",
      "–",
    ],
    [
      `ceiling: pgbench flat out (-c ${PGBENCH_CONNECTIONS}, ${CEILING_SECONDS} s)`,
      "–",
      fmt(flatOut.requestsPerSecond, 1),
      fmt(flatOut.p50Ms, 1),
      fmt(flatOut.p99Ms, 1),
      "–",
      "–",
      fmt(flatOut.errors),
      "–",
      "–",
    ],
  ]);
  const perRequest = (v: number | undefined, answered: number) => fmt((v ?? 0) / Math.max(1, answered), 2);
  const cpuPerAnswer = (m: (typeof measured)[number]) =>
    (Object.values(m.usage.groups).reduce((a, b) => a + b, 0) + m.usage.other) / Math.max(1, m.load.answered);
  const section = [
    "## Accept spike",
    "",
    `\`bun run bench/accept.bench.ts --write\` — ${describeMachine()}, PostgreSQL ${version} on the same host.`,
    "",
    `\`POST /api/suggestions/${WINDOW}/respond {"response":"accepted"}\` offered by an open-loop generator (a Bun`,
    `process firing on schedule whatever the answers, at most ${fmt(MAX_IN_FLIGHT)} in flight — beyond that a request counts as`,
    "not sent; latency from each request's scheduled moment): the spike at the issue's rate, then a steady",
    "rate this machine sustains. Each request is a different member with their own ES256 JWT (verified on first",
    `use) and an offer on record; every ${DUPLICATE_EVERY}th request repeats the accept of a member seven requests earlier. The`,
    "real API process (`apps/api/bin/start.ts`, default pool and log level) also runs the outbox relay: each",
    `commitment's \`committed\` event goes to the broker (${broker.kind}) and its confirmation to the nudging`,
    "tool fake (both in the benchmark process, with a subscriber counting messages); the reminder stays held",
    `(the window is tomorrow). After a ${WARMUP_SECONDS} s warm-up at ${WARMUP_RATE}/s. Ceilings: pgbench (\`-M prepared\`,`,
    `${PGBENCH_CONNECTIONS} clients) running what one accept sends — SELECT live commitment, SELECT offer, INSERT commitment`,
    "ON CONFLICT DO NOTHING, INSERT three outbox rows — in one transaction, at the spike's rate (`-R`, latency",
    "from the schedule) and flat out.",
    "",
    ...table,
    "",
    ...measured.flatMap((m) => [
      `- ${m.tag}: answers ${JSON.stringify(m.load.statuses)}, ${fmt(m.load.notSent)} not sent, ${fmt(m.load.failed)} failed;`,
      `  ${fmt(m.check.commitments)} commitments for ${fmt(m.check.keys)} members answered 200; ${fmt(m.check.messages)} \`committed\``,
      `  messages and ${fmt(m.check.confirmations)} confirmations received; the relay was done ${fmt(m.drainMs / 1000, 1)} s after the`,
      `  last answer. CPU per answered request: API ${perRequest(m.usage.groups.api, m.load.answered)} ms, PostgreSQL`,
      `  ${perRequest(m.usage.groups.postgres, m.load.answered)} ms, generator ${perRequest(m.usage.groups.generator, m.load.answered)} ms, everything else ${perRequest(m.usage.other, m.load.answered)} ms (fakes, broker, other`,
      `  sessions; the machine was ${fmt(100 * m.busyBefore, 0)} % busy just before). Together ${fmt(cpuPerAnswer(m), 2)} ms of CPU per`,
      `  answer: at that cost ${availableParallelism()} cores allow ~${fmt((availableParallelism() * 1000) / cpuPerAnswer(m))} answers/s with everything on this machine.`,
    ]),
    "- Lost = ids answered 200 but missing from the database, plus commitments without their MQTT message or",
    "  their confirmation nudge. Duplicates = a member answered two different ids, a second live commitment for",
    "  a member, or a second message/confirmation for one commitment (MQTT QoS 1 re-deliveries included).",
    "- A NOTIFY inside the accept transaction takes a database-wide lock until the commit is flushed, so",
    "  notifying transactions commit one at a time: with it this pgbench script ran at ~560/s instead of ~1,700/s",
    "  (same machine, busier moment). The accept therefore NOTIFYs after its commit, coalesced per process",
    "  (`wakeOutbox`).",
    "",
  ].join("\n");
  console.log(`\n${section}`);
  if (process.argv.includes("--write")) writeSection("Accept spike", section);
} finally {
  await cleanups.cleanUp();
}

// ————— the generator (a separate process, so its timing is not disturbed by the fakes) —————

type Spike = OpenLoopLoad & {
  /** member → every commitment id answered for them */
  answers: Record<string, string[]>;
};

function generateSpike(url: string, planFile: string, rate: number, seconds: number): Promise<Spike> {
  const out = `${planFile}.out.json`;
  return runGenerator<Spike>("bench/accept.bench.ts", { url, planFile, out, rate, seconds });
}

/** Sends the plan's accepts in order at `rate` for `seconds`, open loop, noting each member's answered ids. */
async function fireAccepts({ url, planFile, rate, seconds }: GeneratorArgs): Promise<Spike> {
  const plan = readFileSync(planFile, "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => {
      const [member = "", token = ""] = line.split(" ");
      return { member, token };
    });
  const target = `${url}/api/suggestions/${WINDOW}/respond`;
  const body = JSON.stringify({ response: "accepted" });
  const answers: Record<string, string[]> = {};
  const load = await fireOpenLoop({
    rate,
    total: Math.min(plan.length, Math.round(rate * seconds)),
    send: (k) => {
      const request = plan[k];
      if (!request) throw new Error(`no request ${k} in the plan`);
      return fetch(target, {
        method: "POST",
        headers: { authorization: `Bearer ${request.token}`, "content-type": "application/json" },
        body,
      });
    },
    onAnswer: (k, status, text) => {
      const member = plan[k]?.member;
      if (status !== 200 || member === undefined) return;
      const id = String(JSON.parse(text).commitment_id);
      const list = answers[member] ?? [];
      if (!list.includes(id)) list.push(id);
      answers[member] = list;
    },
  });
  return { ...load, answers };
}

// ————— helpers of the main process —————

/** `count` members `<tag>-1…` offered tomorrow's 09:00–12:00 UTC window with 15 points. */
async function seedOffers(db: BenchDatabase, tag: string, count: number): Promise<void> {
  await db.sql`
    insert into flexibility_offers (user_id, window_id, community_id, device_id, period_start, period_end,
      reward_points, impact_kwh, community_kwh)
    select ${tag} || '-' || g, ${WINDOW}, 'rec-bench', 'meter-' || g,
      date_trunc('day', now()) + interval '1 day 9 hours', date_trunc('day', now()) + interval '1 day 12 hours',
      15, 1.5, 40
    from generate_series(1, ${count}) g`;
  await db.sql`vacuum analyze flexibility_offers`;
}

/** Wait until nothing but held reminders is pending; false on timeout. */
async function drained(db: BenchDatabase, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [{ n } = { n: 0 }] = await db.sql<{ n: number }[]>`
      select count(*)::int as n from flexibility_outbox
      where status = 'pending' and target <> 'flexibility_reminder'`;
    if (n === 0) return true;
    if (Date.now() > deadline) return false;
    await Bun.sleep(250);
  }
}

async function verify(
  db: BenchDatabase,
  tag: string,
  spike: Spike,
  messages: Map<string, number>,
  nudges: Map<string, number>,
) {
  const rows = await db.sql<{ id: string; user_id: string; status: string }[]>`
    select id, user_id, status from flexibility_commitments where user_id like ${`${tag}-%`}`;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const live = new Map<string, number>();
  for (const r of rows) if (r.status === "committed") live.set(r.user_id, (live.get(r.user_id) ?? 0) + 1);
  let lost = 0;
  let duplicates = 0;
  // Every id a member was answered exists; a member answered two different ids is a duplicate.
  for (const ids of Object.values(spike.answers)) {
    for (const id of ids) if (!byId.has(id)) lost += 1;
    duplicates += Math.max(0, ids.length - 1);
  }
  for (const n of live.values()) duplicates += Math.max(0, n - 1);
  let messageRepeats = 0;
  let received = 0;
  let confirmations = 0;
  for (const r of rows) {
    const m = messages.get(r.id) ?? 0;
    const c = nudges.get(`flexibility_committed|${r.id}`) ?? 0;
    if (m === 0) lost += 1;
    if (c === 0) lost += 1;
    received += m;
    confirmations += c;
    messageRepeats += Math.max(0, m - 1);
    duplicates += Math.max(0, m - 1) + Math.max(0, c - 1);
  }
  return {
    commitments: rows.length,
    keys: Object.keys(spike.answers).length,
    messages: received,
    confirmations,
    messageRepeats,
    lost,
    duplicates,
  };
}

/** The statements one accept sends (respondToSuggestion + enqueue, NOTIFY aside), for pgbench. */
function pgbenchScript(): string {
  const payload = (kind: string) =>
    `'{"event_type":"${kind}","user_id":"u","community_id":"rec-bench","timestamp":"2026-07-02T06:00:00.000Z","facts":{"facts_version":"1.0","scenario":"${kind}","window_start":"11:00","window_end":"14:00","reward_points_estimated":"15","period":"2026-07-03","commitment_id":"00000000-0000-0000-0000-000000000000","suggestion_id":"${WINDOW}"}}'::jsonb`;
  return [
    "\\set u random(1, 2000000000)",
    "BEGIN;",
    `SELECT * FROM flexibility_commitments WHERE user_id = 'pg-' || :u::text AND suggestion_id = '${WINDOW}' AND status = 'committed';`,
    `SELECT * FROM flexibility_offers WHERE user_id = 'pg-' || :u::text AND window_id = '${WINDOW}';`,
    "WITH c AS (",
    "  INSERT INTO flexibility_commitments (user_id, suggestion_id, community_id, device_id, period_start, period_end,",
    "    reward_points_estimated, committed_at, created_at, origin, notice_at)",
    `  VALUES ('pg-' || :u::text, '${WINDOW}', 'rec-bench', 'meter-1', now() + interval '1 day', now() + interval '1 day 3 hours', 15, now(), now(), 'member', now())`,
    // No conflict target: the live unique index and the overlap exclusion constraint both skip it.
    "  ON CONFLICT DO NOTHING RETURNING *)",
    "INSERT INTO flexibility_outbox (kind, target, payload, commitment_id, requires_live, due_at, next_attempt_at)",
    "SELECT e.kind, e.target, e.payload, c.id, e.live, e.due, e.due FROM c, (VALUES",
    `  ('mqtt', 'celine/flexibility/committed/u', '{"user_id":"u","community_id":"rec-bench","commitment_id":"00000000-0000-0000-0000-000000000000","device_id":"meter-1","window_start":"2026-07-03T09:00:00.000Z","window_end":"2026-07-03T12:00:00.000Z","reward_points_estimated":15}'::jsonb, false, now()),`,
    `  ('nudge', 'flexibility_committed', ${payload("flexibility_committed")}, false, now()),`,
    `  ('nudge', 'flexibility_reminder', ${payload("flexibility_reminder")}, true, now() + interval '1 day')`,
    ") AS e(kind, target, payload, live, due);",
    // The API's NOTIFY goes after the commit, coalesced per process (wakeOutbox), not in here.
    "COMMIT;",
    "",
  ].join("\n");
}
