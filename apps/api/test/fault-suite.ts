import { expect } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  createLogger,
  createMetrics,
  type Logger,
  type LogRecord,
  type Metrics,
  type OutboxRelay,
  type Platform,
  startOutboxRelay,
} from "@celine/core";
import { commitments, type Database, outbox } from "@celine/core/db";
import { type NudgingTool, type OidcIssuer, testBrokerUrl } from "@celine/fakes";
import {
  createDigitalTwinClient,
  createMqttPublisher,
  createNudgingClient,
  type MqttPublisher,
} from "@celine/platform";
import { compilePolicies } from "@celine/policy";
import { inArray } from "drizzle-orm";
import mqtt from "mqtt";
import { parseApiEnv, rateLimitsOf } from "../src/env.ts";
import { POLICY_PACKAGE } from "../src/lib/compile-policy.ts";
import type { RateLimits } from "../src/lib/rate-limit.ts";
import { type Harness, type Json, POLICY_DIR } from "./harness.ts";
import type { WindowPublisher } from "./published-windows.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";

// The machinery of the fault suite (faults.test.ts, issue 14 item 9): members accepting windows
// through the real app while a fault is held, a record of every answer they got and of the phase it
// fell in, and the ledger after recovery — every commitment a client got a 2xx for exists once, has
// one `committed` event at the broker, one confirmation at the nudging tool, and no outbox entry
// left behind.

/** The abuse limits as the app's environment sets them, lifted far above what the load sends. */
export function liftedRateLimits(): RateLimits {
  const lifted = "1000000";
  return rateLimitsOf(
    parseApiEnv({
      CELINE_ENV: "dev",
      RATE_LIMIT_READS_PER_MIN: lifted,
      RATE_LIMIT_WRITES_PER_MIN: lifted,
      RATE_LIMIT_EXPORT_PER_MIN: lifted,
      RATE_LIMIT_UNAUTHENTICATED_PER_MIN: lifted,
    }),
  );
}

/**
 * The contract fakes behind the real adapters, with deadlines for a loaded machine: a DT call gives
 * up after 2 s and is tried twice (a hung DT answers a participant's accept within ~4.5 s); an ingest
 * gets 5 s, so a slow but successful one is not retried into a duplicate.
 */
export async function startFaultPlatform(issuer: OidcIssuer, metrics: Metrics = createMetrics()) {
  const fakes: PlatformFakes = await startPlatformFakes(issuer, { metrics });
  const { tokens } = fakes;
  const log = createLogger({ level: "silent" });
  const platform: Platform = {
    ...fakes.platform,
    dt: createDigitalTwinClient({
      baseUrl: fakes.dt.url,
      tokens,
      metrics,
      log,
      timeoutMs: 2_000,
      retries: 1,
    }),
    nudging: createNudgingClient({ baseUrl: fakes.nudging.url, tokens, metrics, log, timeoutMs: 5_000 }),
  };
  return { ...fakes, platform };
}

/** Poll `condition` every 50 ms until it holds; a bounded wait that fails naming what it waited for. */
export async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** A one-hour window tomorrow, 08:00–09:00 UTC: offered (before 21:00 in Rome), its reminder not due today. */
export function tomorrowsWindow(): { start: string; end: string } {
  const day = new Date();
  day.setUTCHours(0, 0, 0, 0);
  const start = day.getTime() + 86_400_000 + 8 * 3_600_000;
  return { start: new Date(start).toISOString(), end: new Date(start + 3_600_000).toISOString() };
}

// ---------------------------------------------------------------------------------------------
// The load

export type Op = "suggestions" | "accept" | "commitments";

/** One answer a client got. Times are Date.now() milliseconds. */
export type Sample = {
  op: Op;
  sub: string;
  status: number;
  started: number;
  ended: number;
  retryAfter: string | null;
  contentType: string | null;
  requestId: string | null;
  json: Json;
  text: string;
};

export type LoadMember = {
  sub: string;
  token: string;
  /** Lists its suggestions before accepting (the offer is then on record: no DT call to accept). */
  lists: boolean;
  windowId: string;
  /** The commitment ids its 2xx accepts named (one, when all is well). */
  ids: Set<string>;
  /** It never got a 2xx: refused for good, or not within the member deadline. */
  gaveUp: boolean;
};

export type Load = {
  samples: Sample[];
  members: LoadMember[];
  /** A new phase starts now (the previous one ends). */
  mark(phase: string): void;
  /** When `phase` started (the first mark of that name). */
  startOf(phase: string): number;
  /** The phase a sample fell in: one name, or `a→b` when it began in one and ended in another. */
  phaseOf(sample: Sample): string;
  /** Members whose accept has been answered 2xx. */
  committed(): number;
  /** Stop taking new members, finish the ones in progress (their accepts retried to a 2xx), and wait. */
  stop(): Promise<void>;
};

/**
 * `workers` clients, each taking one new member after another: half list their suggestions first,
 * every one accepts its window (retrying after any refusal, `retryPauseMs` apart, as a client
 * would), then reads its commitments; `readers` more clients read the commitments and suggestions
 * of members taken so far, in turn. Every answer is recorded.
 */
export function startLoad({
  h,
  windows,
  tag,
  workers = 6,
  readers = 2,
  retryPauseMs = 200,
  readPauseMs = 100,
  memberDeadlineMs = 120_000,
}: {
  h: Pick<Harness, "call" | "participant">;
  windows: WindowPublisher;
  tag: string;
  workers?: number;
  readers?: number;
  retryPauseMs?: number;
  readPauseMs?: number;
  memberDeadlineMs?: number;
}): Load {
  const samples: Sample[] = [];
  const members: LoadMember[] = [];
  const marks: { phase: string; at: number }[] = [{ phase: "before", at: Date.now() }];
  const window = tomorrowsWindow();
  let running = true;
  let taken = 0;

  async function send(op: Op, member: LoadMember, method: string, path: string, body?: unknown) {
    const started = Date.now();
    const res = await h.call(method, path, { token: member.token, body });
    const sample: Sample = {
      op,
      sub: member.sub,
      status: res.status,
      started,
      ended: Date.now(),
      retryAfter: res.headers.get("retry-after"),
      contentType: res.headers.get("content-type"),
      requestId: res.headers.get("x-request-id"),
      json: res.json,
      text: res.text,
    };
    samples.push(sample);
    return sample;
  }

  async function serve(worker: number) {
    while (running) {
      // Counted before any await: two workers never take the same member.
      taken += 1;
      const n = taken;
      const sub = `fault-${tag}-${n}`;
      const { suggestion_id } = windows.publish(sub, window);
      const member: LoadMember = {
        sub,
        token: await h.participant(sub),
        lists: (n + worker) % 2 === 0,
        windowId: suggestion_id,
        ids: new Set(),
        gaveUp: false,
      };
      members.push(member);
      if (member.lists) await send("suggestions", member, "GET", "/api/suggestions");
      const deadline = Date.now() + memberDeadlineMs;
      for (;;) {
        const answer = await send(
          "accept",
          member,
          "POST",
          `/api/suggestions/${encodeURIComponent(member.windowId)}/respond`,
          { response: "accepted" },
        );
        if (answer.status >= 200 && answer.status < 300) {
          member.ids.add(String(answer.json?.commitment_id));
          break;
        }
        // Retried: what a fault answers (403 while the policy cannot decide, 5xx). Any other refusal
        // is final, and the member shows up in the ledger as one that never got its commitment.
        const retryable = answer.status === 403 || answer.status >= 500;
        if (!retryable || Date.now() > deadline) {
          member.gaveUp = true;
          break;
        }
        await Bun.sleep(retryPauseMs);
      }
      await send("commitments", member, "GET", "/api/commitments?limit=50");
    }
  }

  /** Reads on their own, so they go on while the accepting clients are stuck retrying. */
  async function read(reader: number) {
    for (let turn = reader; running; turn += readers) {
      const member = members[turn % Math.max(1, members.length)];
      if (!member) {
        await Bun.sleep(50);
        continue;
      }
      await send("commitments", member, "GET", "/api/commitments?limit=50");
      await send("suggestions", member, "GET", "/api/suggestions");
      await Bun.sleep(readPauseMs);
    }
  }

  const done = Promise.all([
    ...Array.from({ length: workers }, (_, i) => serve(i)),
    ...Array.from({ length: readers }, (_, i) => read(i)),
  ]);

  const phaseAt = (at: number) => {
    let phase = "before";
    for (const mark of marks) if (mark.at <= at) phase = mark.phase;
    return phase;
  };

  return {
    samples,
    members,
    mark(phase) {
      marks.push({ phase, at: Date.now() });
    },
    startOf(phase) {
      const mark = marks.find((m) => m.phase === phase);
      if (!mark) throw new Error(`no phase ${phase}`);
      return mark.at;
    },
    phaseOf(sample) {
      const from = phaseAt(sample.started);
      const to = phaseAt(sample.ended);
      return from === to ? from : `${from}→${to}`;
    },
    committed: () => members.filter((m) => m.ids.size > 0).length,
    async stop() {
      running = false;
      await done;
    },
  };
}

/** `{ "phase op": { status: count } }`: what the clients saw, for the assertions' messages and the log. */
export function tally(load: Load): Record<string, Record<number, number>> {
  const out: Record<string, Record<number, number>> = {};
  for (const s of load.samples) {
    const key = `${load.phaseOf(s)} ${s.op}`;
    const row = out[key] ?? {};
    row[s.status] = (row[s.status] ?? 0) + 1;
    out[key] = row;
  }
  return out;
}

/**
 * Each sample passes `check` for its phase: `checks[phase]` answers null when the sample is as it
 * must be, else what is wrong. A phase without a check (a transition) must at least not be a 500.
 */
export function expectAnswers(
  load: Load,
  checks: Record<string, (s: Sample) => string | null>,
  fallback: (s: Sample) => string | null,
): void {
  const wrong: string[] = [];
  for (const s of load.samples) {
    const phase = load.phaseOf(s);
    const check = checks[phase] ?? fallback;
    const problem = check(s);
    if (problem) wrong.push(`${phase} ${s.op} ${s.sub}: ${problem} — ${s.status} ${s.text.slice(0, 300)}`);
  }
  expect(wrong.slice(0, 10), `${wrong.length} wrong answers; seen: ${JSON.stringify(tally(load))}`).toEqual(
    [],
  );
}

export const is2xx = (s: Sample) => s.status >= 200 && s.status < 300;

/** Every answer a 2xx; the accept's names a commitment. */
export const expect2xx = (s: Sample): string | null => (is2xx(s) ? null : "expected 2xx");

// ---------------------------------------------------------------------------------------------
// The broker side

/** A subscriber counting `committed` events per commitment id under `prefix` (QoS 1). */
export async function countCommittedEvents(url: string, prefix: string) {
  const counts = new Map<string, number>();
  const client = await mqtt.connectAsync(url, { clientId: `fault-sub-${prefix}`, clean: true });
  client.on("message", (_topic, payload) => {
    const id = String(JSON.parse(payload.toString()).commitment_id);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  });
  await client.subscribeAsync(`${prefix}/celine/flexibility/committed/+`, { qos: 1 });
  return { counts, close: () => client.endAsync() };
}

/** The relay as the API runs it, with short back-off (recovery shows within a second) and deadlines for a loaded machine. */
export function startFaultRelay({
  database,
  platform,
  publisher,
  metrics,
  log,
}: {
  database: Pick<Database, "db" | "listen">;
  platform: Platform;
  publisher: MqttPublisher;
  metrics: Metrics;
  log: Logger;
}): Promise<OutboxRelay> {
  return startOutboxRelay({
    database,
    platform: { publisher, nudging: platform.nudging, webhooks: platform.webhooks },
    log,
    metrics,
    pollMs: 200,
    backoff: { baseMs: 100, maxMs: 1_000 },
    timeoutMs: 6_000,
  });
}

/**
 * The relay to the shared test broker (Mosquitto in CI) under a topic prefix of its own, and a
 * subscriber there counting `committed` events per commitment.
 */
export async function relayToTestBroker({
  database,
  platform,
  prefix,
  metrics = createMetrics(),
  log = capturingLogger([]),
}: {
  database: Pick<Database, "db" | "listen">;
  platform: Platform;
  prefix: string;
  metrics?: Metrics;
  log?: Logger;
}) {
  const broker = await testBrokerUrl();
  const events = await countCommittedEvents(broker.url, prefix);
  const publisher = faultPublisher(broker.url, metrics, prefix);
  expect(await publisher.waitConnected(5_000)).toBe(true);
  const relay = await startFaultRelay({ database, platform, publisher, metrics, log });
  return {
    events: events.counts,
    async close() {
      await relay.stop();
      await publisher.close();
      await events.close();
      await broker.close();
    },
  };
}

/** A publisher that reconnects within a second of the broker's return. */
export function faultPublisher(url: string, metrics: Metrics, topicPrefix = "", clientId?: string) {
  return createMqttPublisher({
    url,
    topicPrefix,
    clientId,
    log: createLogger({ level: "silent" }),
    metrics,
    reconnectMinMs: 100,
    reconnectMaxMs: 500,
    publishTimeoutMs: 3_000,
    connectTimeoutMs: 1_000,
  });
}

// ---------------------------------------------------------------------------------------------
// The ledger after recovery

export type Ledger = {
  commitments: number;
  mqttEvents: number;
  /** Events beyond one per commitment (allowed only where the test says why). */
  mqttDuplicates: number;
  confirmations: number;
  /** Ingest calls for these confirmations answered other than 2xx (the fault's). */
  refusedIngests: Record<number, number>;
};

/**
 * After recovery: every member got exactly one commitment id from its 2xx answers; the database holds
 * exactly those commitments, live; every due outbox entry of theirs is delivered (the reminder held
 * for tomorrow, pending, one each); the broker saw each `committed` event once (up to
 * `allowedMqttDuplicates`); the nudging tool answered each confirmation 2xx exactly once and never
 * 409 (a second delivery would have been deduplicated there).
 */
export async function expectLedger({
  db,
  load,
  events,
  nudging,
  allowedMqttDuplicates = 0,
}: {
  db: Database["db"];
  load: Load;
  events: Map<string, number>;
  nudging: NudgingTool;
  allowedMqttDuplicates?: number;
}): Promise<Ledger> {
  const { members } = load;
  expect(members.filter((m) => m.gaveUp).map((m) => m.sub)).toEqual([]);
  expect(members.filter((m) => m.ids.size !== 1).map((m) => [m.sub, [...m.ids]])).toEqual([]);
  const ids = members.flatMap((m) => [...m.ids]);
  expect(new Set(ids).size).toBe(members.length);

  const stored = await db
    .select({ id: commitments.id, userId: commitments.userId, status: commitments.status })
    .from(commitments)
    .where(
      inArray(
        commitments.userId,
        members.map((m) => m.sub),
      ),
    );
  expect(stored.length, "one commitment per member, no more").toBe(members.length);
  expect(new Set(stored.map((r) => r.id))).toEqual(new Set(ids));
  expect(stored.every((r) => r.status === "committed")).toBe(true);

  const entriesOf = () =>
    db
      .select({
        id: outbox.id,
        kind: outbox.kind,
        target: outbox.target,
        status: outbox.status,
        commitmentId: outbox.commitmentId,
        dueAt: outbox.dueAt,
        lastError: outbox.lastError,
      })
      .from(outbox)
      .where(inArray(outbox.commitmentId, ids));
  await until(
    "every due outbox entry delivered",
    async () =>
      (await entriesOf()).every((e) => e.status !== "pending" || e.dueAt.getTime() > Date.now() + 3_600_000),
    90_000,
  );
  const entries = await entriesOf();
  const byKind = (kind: string, target: string | null, status: string) =>
    entries.filter(
      (e) =>
        e.kind === kind &&
        (target === null || e.target === target || e.target.startsWith(target)) &&
        e.status === status,
    ).length;
  const failures = entries.filter((e) => e.status === "failed" || e.status === "dropped");
  expect(failures.map((e) => [e.kind, e.target, e.status, e.lastError])).toEqual([]);
  expect(byKind("mqtt", "celine/flexibility/committed/", "delivered")).toBe(ids.length);
  expect(byKind("nudge", "flexibility_committed", "delivered")).toBe(ids.length);
  expect(byKind("nudge", "flexibility_reminder", "pending")).toBe(ids.length);
  expect(entries.length, "three side effects per commitment, no webhooks subscribed").toBe(3 * ids.length);

  const wanted = new Set(ids);
  await until(
    "every committed event at the broker",
    () => ids.every((id) => (events.get(id) ?? 0) > 0),
    30_000,
  );
  // Give a late duplicate every chance to arrive.
  await Bun.sleep(500);
  const mqttEvents = ids.reduce((sum, id) => sum + (events.get(id) ?? 0), 0);
  const over = ids.filter((id) => (events.get(id) ?? 0) > 1);
  expect(over.length, `commitments with a repeated committed event: ${over.length}`).toBeLessThanOrEqual(
    allowedMqttDuplicates,
  );

  const confirmationCalls = nudging.calls.filter((c) => {
    const body = c.body as { event_type?: string; facts?: { commitment_id?: string } } | null;
    return (
      c.path === "/admin/ingest-event" &&
      body?.event_type === "flexibility_committed" &&
      wanted.has(String(body.facts?.commitment_id))
    );
  });
  const answered2xx = new Map<string, number>();
  const refusedIngests: Record<number, number> = {};
  for (const call of confirmationCalls) {
    const id = String((call.body as { facts?: { commitment_id?: string } }).facts?.commitment_id);
    if (call.status >= 200 && call.status < 300) answered2xx.set(id, (answered2xx.get(id) ?? 0) + 1);
    else refusedIngests[call.status] = (refusedIngests[call.status] ?? 0) + 1;
  }
  expect(ids.filter((id) => answered2xx.get(id) !== 1)).toEqual([]);
  // A repeated delivery would be answered 409 by the tool's deduplication: none may have happened.
  expect(refusedIngests[409] ?? 0).toBe(0);
  const distinct = nudging
    .received()
    .filter(
      (r) =>
        r.event.event_type === "flexibility_committed" && wanted.has(String(r.event.facts.commitment_id)),
    );
  expect(distinct.length).toBe(ids.length);
  expect(new Set(distinct.map((r) => String(r.event.facts.commitment_id)))).toEqual(wanted);

  return {
    commitments: ids.length,
    mqttEvents,
    mqttDuplicates: mqttEvents - ids.length,
    confirmations: distinct.length,
    refusedIngests,
  };
}

/** One line per fault in the test output: how long it was held, what clients saw, what arrived. */
export function report(name: string, load: Load, heldMs: number, ledger: Ledger): void {
  const seen: Record<string, Record<number, number>> = {};
  for (const s of load.samples) {
    const row = seen[s.op] ?? {};
    row[s.status] = (row[s.status] ?? 0) + 1;
    seen[s.op] = row;
  }
  console.log(
    `faults.test.ts: ${name}: held ${(heldMs / 1000).toFixed(1)} s; ${load.samples.length} requests ${JSON.stringify(seen)}; ` +
      `${ledger.commitments} commitments, ${ledger.mqttEvents} committed events (${ledger.mqttDuplicates} repeated), ` +
      `${ledger.confirmations} confirmations (ingests refused ${JSON.stringify(ledger.refusedIngests)})`,
  );
}

/** A logger keeping records in `into` (the relay's warnings, for a failure's message). */
export function capturingLogger(into: LogRecord[], level: "warn" | "error" = "warn"): Logger {
  return createLogger({ level, sink: (r) => into.push(r) });
}

// ---------------------------------------------------------------------------------------------
// OPA

/**
 * An OPA sidecar speaking the Data API, deciding with the real access policy, that can be stopped
 * (its port closed: unreachable) and started again on the same port.
 */
export async function startRestartableOpa() {
  const source = await readFile(join(POLICY_DIR, "flexibility.rego"), "utf8");
  const policy = compilePolicies([{ path: "flexibility.rego", source }]);
  const state = { calls: 0 };
  const serve = (port: number) =>
    Bun.serve({
      hostname: "127.0.0.1",
      port,
      async fetch(req) {
        state.calls += 1;
        const { input } = (await req.json()) as { input: unknown };
        return Response.json({ result: policy.decide(POLICY_PACKAGE, input) });
      },
    });
  let server: ReturnType<typeof serve> | null = serve(0);
  const port = server.port ?? 0;
  return {
    url: `http://127.0.0.1:${port}`,
    state,
    async stop() {
      await server?.stop(true);
      server = null;
    },
    start() {
      server ??= serve(port);
    },
  };
}
