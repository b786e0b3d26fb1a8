// The opportunity broadcast at scale: one completed `rec-forecasting-flow` run announces a window to
// 10,000 members across 20 communities. The real listener process (apps/listener/src/index.ts, on
// PostgreSQL) takes the event from the broker, reads the registry and the forecasts, writes one
// outbox row per member, and its relay delivers every nudge to the nudging tool's contract fake.
// Measured from the publish to the 10,000th nudge accepted by the fake. Beside it, the same run
// with the relay's batch raised, and a ceiling: 10,000 ingest calls sent straight to the same fake
// with the same HTTP client, 50 in flight (what the relay's default batch keeps in flight).
// `bun run bench/broadcast.bench.ts [--write] [--communities=20] [--members=500] [--rounds=1]`;
// --write rewrites the "Opportunity broadcast" section of bench/RESULTS.md.
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLogger, createMetrics, type NudgeEvent } from "@celine/core";
import {
  type RegistryMember,
  startDigitalTwin,
  startEmbeddedBroker,
  startNudgingTool,
  startOidcIssuer,
  startRecRegistry,
} from "@celine/fakes";
import { createNudgingClient, createTokenProvider } from "@celine/platform";
import mqtt from "mqtt";
import { arg, createCleanups } from "./lib/cli.ts";
import { type CpuUsage, postgresBackendOf, startCpuAccounting, waitForQuiet } from "./lib/cpu.ts";
import { createBenchDatabase } from "./lib/database.ts";
import { freePort, OUT_DIR, REPO } from "./lib/processes.ts";
import { describeMachine, fmt, formatTable, writeSection } from "./lib/results.ts";

const COMMUNITIES = arg("communities", 20);
const PER_COMMUNITY = arg("members", 500);
const ROUNDS = arg("rounds", 1);
const MEMBERS = COMMUNITIES * PER_COMMUNITY;
const GOAL_S = 60;
const DATABASE = "flex_bench_broadcast";
const PREFIX = "bench";
const HOUR_MS = 3_600_000;
const CEILING_IN_FLIGHT = 50;

mkdirSync(OUT_DIR, { recursive: true });
const cleanups = createCleanups();

type Measurement = {
  label: string;
  seconds: number;
  /** Publish → every outbox row written (the handler's own duration, from its /metrics). */
  handlerSeconds: number | null;
  nudges: number;
  rejected: number;
  cpu: CpuUsage;
};

try {
  const db = await createBenchDatabase(DATABASE);
  cleanups.push(() => db.drop());
  const version = await db.serverVersion();

  const issuer = await startOidcIssuer({ tokenTtlSeconds: 3600 });
  cleanups.push(() => issuer.close());
  const [dt, nudging, registry] = await Promise.all([
    startDigitalTwin({ issuer }),
    startNudgingTool({ issuer }),
    startRecRegistry({ issuer }),
  ]);
  cleanups.push(async () => {
    await Promise.all([dt.close(), nudging.close(), registry.close()]);
  });
  const broker = await startEmbeddedBroker();
  cleanups.push(() => broker.close());

  // Every community exports 1.2 kW all day: the window is the first hour from now that is at or
  // after 05:00 in Rome, running to local midnight. Every member has an account.
  const from = new Date(Math.ceil(Date.now() / HOUR_MS) * HOUR_MS);
  const keys = Array.from({ length: COMMUNITIES }, (_, c) => `rec-${String(c).padStart(2, "0")}`);
  registry.seed(
    keys.map((key) => ({
      key,
      name: key,
      members: Array.from(
        { length: PER_COMMUNITY },
        (_, i): RegistryMember => ({
          id: `${key}-m${i}`,
          key: `${key}-m${i}`,
          user_id: `${key}-u${i}`,
          name: `Member ${i}`,
          role: "consumer",
          area: "north",
          status: "active",
        }),
      ),
    })),
  );
  for (const key of keys) {
    dt.setForecast(
      key,
      Array.from({ length: 24 }, (_, h) => ({
        datetime: new Date(from.getTime() + h * HOUR_MS).toISOString().slice(0, 19),
        prediction: "1.2",
        period: "PT1H",
        lower: 0.8,
        upper: 1.6,
      })),
    );
  }

  const busyBefore = await waitForQuiet();
  const results: Measurement[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const batch of [undefined, 200]) {
      const label =
        batch === undefined ? "listener, default relay (batch 50)" : `listener, relay batch ${batch}`;
      results.push(await measureListener(label, batch));
      console.log(`round ${round}: ${label}: ${fmt(results.at(-1)?.seconds ?? 0, 2)} s`);
    }
    results.push(await measureCeiling());
    console.log(`round ${round}: ceiling: ${fmt(results.at(-1)?.seconds ?? 0, 2)} s`);
  }

  async function measureListener(label: string, batch: number | undefined): Promise<Measurement> {
    await db.sql`truncate flexibility_outbox, flexibility_broadcasts, flexibility_processed_runs`;
    nudging.clearEvents();
    nudging.clearCalls();
    const port = freePort();
    const logFile = join(OUT_DIR, "listener-broadcast.log");
    const log = openSync(logFile, "w");
    const proc = Bun.spawn([process.execPath, join(REPO, "apps/listener/src/index.ts")], {
      cwd: REPO,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        CELINE_ENV: "dev",
        DATABASE_URL: db.url,
        DB_SCHEMA: "flexibility",
        CELINE_OIDC_BASE_URL: issuer.url,
        CELINE_OIDC_CLIENT_ID: "svc-flexibility",
        CELINE_OIDC_CLIENT_SECRET: "svc-flexibility-secret",
        DIGITAL_TWIN_API_URL: dt.url,
        NUDGING_API_URL: nudging.url,
        REC_REGISTRY_URL: registry.url,
        DT_CLIENT_SCOPE: "digital-twin.read",
        REC_REGISTRY_SCOPE: "rec-registry.read",
        CELINE_MQTT_HOST: "127.0.0.1",
        CELINE_MQTT_PORT: String(broker.port),
        CELINE_MQTT_TOPIC_PREFIX: PREFIX,
        LISTENER_PORT: String(port),
        ...(batch === undefined ? {} : { OUTBOX_RELAY_BATCH: String(batch) }),
      },
      stdout: log,
      stderr: log,
    });
    closeSync(log);
    try {
      const probes = `http://127.0.0.1:${port}`;
      await until(`listener ready (log: ${logFile})`, 60_000, async () => {
        if (proc.exitCode !== null) throw new Error(`listener exited:\n${readFileSync(logFile, "utf8")}`);
        return (await fetch(`${probes}/ready`).catch(() => null))?.status === 200;
      });
      const cpu = startCpuAccounting({
        listener: (p) => p.pid === proc.pid,
        postgres: postgresBackendOf(DATABASE),
        fakes: (p) => p.pid === process.pid,
      });
      const started = performance.now();
      await publishRun();
      await until("every nudge delivered", 300_000, () => nudging.received().length >= MEMBERS, 10);
      const seconds = (performance.now() - started) / 1000;
      const usage = cpu.stop();
      const metrics = await (await fetch(`${probes}/metrics`)).text();
      const handlerSeconds = Number(
        /^flexibility_listener_message_seconds_sum (\S+)$/m.exec(metrics)?.[1] ?? Number.NaN,
      );
      verify(nudging.received().map((n) => n.event));
      return {
        label,
        seconds,
        handlerSeconds: Number.isFinite(handlerSeconds) ? handlerSeconds : null,
        nudges: nudging.received().length,
        rejected: nudging.calls.filter((c) => c.status >= 300).length,
        cpu: usage,
      };
    } finally {
      proc.kill("SIGTERM");
      await Promise.race([proc.exited, Bun.sleep(10_000)]);
      proc.kill("SIGKILL");
    }
  }

  async function measureCeiling(): Promise<Measurement> {
    nudging.clearEvents();
    nudging.clearCalls();
    const silent = createLogger({ level: "silent" });
    const metrics = createMetrics();
    const tokens = createTokenProvider({
      issuerUrl: issuer.url,
      clientId: "svc-flexibility",
      clientSecret: "svc-flexibility-secret",
    });
    const client = createNudgingClient({ baseUrl: nudging.url, tokens, metrics, log: silent });
    await tokens.token("nudging.ingest");
    const events: NudgeEvent[] = keys.flatMap((key) =>
      Array.from({ length: PER_COMMUNITY }, (_, i) => ({
        event_type: "flexibility_opportunity",
        user_id: `${key}-u${i}`,
        community_id: key,
        timestamp: new Date().toISOString(),
        facts: {
          facts_version: "1.0" as const,
          scenario: "flexibility_opportunity",
          window_start: "10:00",
          window_end: "13:00",
          estimated_kwh: "3.6",
          reward_points: "36",
          period: "2026-07-02",
        },
      })),
    );
    const cpu = startCpuAccounting({
      listener: () => false,
      postgres: postgresBackendOf(DATABASE),
      fakes: (p) => p.pid === process.pid,
    });
    const started = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: CEILING_IN_FLIGHT }, async () => {
        while (next < events.length) {
          const event = events[next++];
          if (event) await client.ingest(event);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    return {
      label: `ceiling: ${fmt(MEMBERS)} ingest calls straight to the fake, ${CEILING_IN_FLIGHT} in flight`,
      seconds,
      handlerSeconds: null,
      nudges: nudging.received().length,
      rejected: nudging.calls.filter((c) => c.status >= 300).length,
      cpu: cpu.stop(),
    };
  }

  async function publishRun(): Promise<void> {
    const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    await client.publishAsync(
      `${PREFIX}/celine/pipelines/runs/rec-forecasting-flow`,
      JSON.stringify({
        flow: "rec-forecasting-flow",
        namespace: "rec",
        status: "completed",
        run_id: crypto.randomUUID(),
        timestamp: new Date().toISOString(),
        duration_ms: 1000,
        error: null,
      }),
      { qos: 1 },
    );
    await client.endAsync();
  }

  /** Every member exactly once, with the facts the nudging tool requires. */
  function verify(events: { user_id: string; facts: Record<string, unknown> }[]): void {
    const users = new Set(events.map((e) => e.user_id));
    if (events.length !== MEMBERS || users.size !== MEMBERS) {
      throw new Error(`expected ${MEMBERS} distinct members, got ${events.length} events for ${users.size}`);
    }
    const bad = events.find(
      (e) => !/^\d{2}:\d{2}$/.test(String(e.facts.window_start)) || !e.facts.reward_points,
    );
    if (bad) throw new Error(`malformed facts: ${JSON.stringify(bad)}`);
  }

  // One row per run kind: the median round, with every round's time beside it.
  const kinds = [...new Set(results.map((r) => r.label))];
  const rows = kinds.map((label) => {
    const runs = results.filter((r) => r.label === label);
    const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
    const median = sorted[Math.floor(sorted.length / 2)] ?? sorted[0];
    if (!median) throw new Error(`no run of ${label}`);
    return { median, rounds: runs.map((r) => fmt(r.seconds, 2)).join(" / ") };
  });
  const listenerRuns = results.filter((r) => r.handlerSeconds !== null);
  const worst = Math.max(...listenerRuns.map((r) => r.seconds));
  const cpuMs = (m: Measurement, group: string) => fmt((m.cpu.groups[group] ?? 0) / 1000, 1);
  const section = [
    "## Opportunity broadcast",
    "",
    `\`bun run bench/broadcast.bench.ts ${process.argv.slice(2).join(" ")}\` — ${describeMachine()}, PostgreSQL ${version} on the same host.`,
    "",
    `One completed \`rec-forecasting-flow\` event → ${fmt(MEMBERS)} \`flexibility_opportunity\` nudges: ${COMMUNITIES}`,
    `communities of ${fmt(PER_COMMUNITY)} members (registry pages of 50), a 24-hour forecast each. The real listener`,
    "process (`apps/listener/src/index.ts`, `CELINE_ENV=dev`, PostgreSQL, logs to a file) takes the event from",
    "an embedded broker, reads the registry and the forecasts through @celine/platform, writes the nudges to",
    "the outbox in one transaction per community, and its relay delivers them to the nudging tool's",
    "contract fake (token check, schema and facts validation, dedup). The fakes run in the benchmark",
    "process. Time: from the publish to the last nudge accepted (the relay starts delivering while later",
    "communities are still being written); “handler” is the listener's own time for the event (registry,",
    "DT, outbox writes), read from its `/metrics`. CPU seconds of the median round, from /proc.",
    `The ceiling sends the same number of ingest calls straight to the same fake with the same HTTP client.`,
    `${ROUNDS} round(s); machine busy before: ${fmt(busyBefore * 100, 0)} %.`,
    "",
    ...formatTable([
      [
        "run",
        "seconds (median)",
        "rounds",
        "handler s",
        "nudges/s",
        "nudges",
        "rejected",
        "CPU listener s",
        "CPU postgres s",
        "CPU fakes s",
      ],
      ...rows.map(({ median: m, rounds }) => [
        m.label,
        fmt(m.seconds, 2),
        rounds,
        m.handlerSeconds === null ? "–" : fmt(m.handlerSeconds, 2),
        fmt(m.nudges / m.seconds),
        fmt(m.nudges),
        fmt(m.rejected),
        m.handlerSeconds === null ? "–" : cpuMs(m, "listener"),
        cpuMs(m, "postgres"),
        cpuMs(m, "fakes"),
      ]),
    ]),
    "",
    `Goal ≤ ${GOAL_S} s for ${fmt(MEMBERS)} members: ${worst <= GOAL_S ? "met" : "NOT met"} (slowest listener run ${fmt(worst, 2)} s).`,
  ].join("\n");
  console.log(`\n${section}\n`);
  if (process.argv.includes("--write")) writeSection("Opportunity broadcast", section);
} finally {
  await cleanups.cleanUp();
}

async function until(
  what: string,
  timeoutMs: number,
  check: () => boolean | Promise<boolean>,
  everyMs = 100,
) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await Bun.sleep(everyMs);
  }
}
