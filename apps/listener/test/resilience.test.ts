import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createMetrics, type Metrics } from "@celine/core";
import { type EmbeddedBroker, startEmbeddedBroker, testBrokerUrl } from "@celine/fakes";
import { HANDLERS, type HandlerName, type RunHandler } from "../src/handlers/index.ts";
import { completed, createWorld, publishRuns, startWorldListener, type World, waitFor } from "./fixtures.ts";

// Starting servers and databases on a busy 2-core machine takes seconds; never let one hang CI.
setDefaultTimeout(30_000);

// What keeps the listener alive: a broker that is away at start-up or dies mid-run (the embedded
// broker on a fixed port, so it can be killed and brought back), replicas sharing one
// subscription, a JWT broker login, and a bounded drain on shutdown.

const MESSAGES = "flexibility_listener_messages_total";
let world: World;

beforeAll(async () => {
  world = await createWorld();
  world.registry.seed([]);
});
afterAll(async () => {
  await world?.close();
});

/** A port nothing listens on (a broker was there a moment ago). */
async function freePort(): Promise<number> {
  const probe = await startEmbeddedBroker();
  await probe.close();
  return probe.port;
}

/** The meter-tick handler wrapped to record which runs each replica handled. */
function recordingHandlers(seen: string[]): Record<HandlerName, RunHandler> {
  return {
    ...HANDLERS,
    "meter-tick": async (args) => {
      seen.push(args.run.run_id);
      return HANDLERS["meter-tick"](args);
    },
  };
}

describe("broker outages", () => {
  test("a broker that is down at start-up is retried until it comes up; events are then handled", async () => {
    const port = await freePort();
    const metrics = createMetrics();
    const listener = await startWorldListener(world, `mqtt://127.0.0.1:${port}`, { metrics });
    let broker: EmbeddedBroker | undefined;
    try {
      await waitFor(
        "a few failed attempts",
        () => listener.broker.state(),
        (s) => s === "waiting",
      );
      const ready = await listener.readiness();
      expect(ready.ready, JSON.stringify(ready)).toBe(false);

      broker = await startEmbeddedBroker({ port });
      await waitFor("the listener to subscribe", () => listener.broker.ready(), Boolean);
      await publishRuns(broker.url, world.prefix, [completed("meters-flow")]);
      await waitFor(
        "the tick",
        () => metrics.value(MESSAGES, { outcome: "handled", handler: "meter-tick" }),
        (n) => n === 1,
      );
    } finally {
      await listener.stop();
      await broker?.close();
    }
  });

  test("the broker killed and restarted mid-run: the listener recovers by itself and handles later events", async () => {
    let broker = await startEmbeddedBroker();
    const port = broker.port;
    const metrics = createMetrics();
    const listener = await startWorldListener(world, broker.url, { metrics });
    try {
      await waitFor("subscribed", () => listener.broker.ready(), Boolean);
      await publishRuns(broker.url, world.prefix, [completed("meters-flow")]);
      await waitFor(
        "first tick",
        () => metrics.value(MESSAGES, { outcome: "handled", handler: "meter-tick" }),
        (n) => n === 1,
      );

      await broker.close();
      await waitFor(
        "the loss to be noticed",
        () => listener.broker.ready(),
        (ready) => !ready,
      );
      const during = await fetch(`http://127.0.0.1:${listener.port}/ready`);
      expect(during.status, await during.text()).toBe(503);

      broker = await startEmbeddedBroker({ port });
      await waitFor("resubscribed", () => listener.broker.ready(), Boolean);
      await publishRuns(broker.url, world.prefix, [completed("meters-flow"), completed("rec-metering-flow")]);
      await waitFor(
        "later ticks",
        () => metrics.value(MESSAGES, { outcome: "handled", handler: "meter-tick" }),
        (n) => n === 3,
      );
      expect(metrics.value("flexibility_listener_broker_disconnects_total")).toBe(1);
      expect(metrics.value("flexibility_listener_broker_connects_total")).toBe(2);
    } finally {
      await listener.stop();
      await broker.close();
    }
  });
});

describe("replicas", () => {
  test("two replicas on one shared subscription handle each event exactly once between them", async () => {
    const broker = await testBrokerUrl();
    const group = `g-${crypto.randomUUID().slice(0, 8)}`;
    const seenA: string[] = [];
    const seenB: string[] = [];
    const [metricsA, metricsB] = [createMetrics(), createMetrics()];
    const a = await startWorldListener(world, broker.url, {
      shareGroup: group,
      metrics: metricsA,
      handlers: recordingHandlers(seenA),
    });
    const b = await startWorldListener(world, broker.url, {
      shareGroup: group,
      metrics: metricsB,
      handlers: recordingHandlers(seenB),
    });
    try {
      await waitFor("both subscribed", () => a.broker.ready() && b.broker.ready(), Boolean);
      const runs = Array.from({ length: 20 }, (_, i) =>
        completed(i % 2 ? "meters-flow" : "rec-metering-flow"),
      );
      await publishRuns(broker.url, world.prefix, runs);
      const total = (outcome: string) =>
        metricsA.value(MESSAGES, { outcome, handler: "meter-tick" }) +
        metricsB.value(MESSAGES, { outcome, handler: "meter-tick" });
      await waitFor(
        "every run handled",
        () => total("handled"),
        (n) => n === 20,
      );
      await Bun.sleep(300);

      const all = [...seenA, ...seenB].sort();
      expect(all).toEqual(runs.map((r) => String(r.run_id)).sort());
      // Shared, not repeated: no replica saw another's run, so none was even a duplicate.
      expect(total("duplicate")).toBe(0);
      expect(seenA.length, `A ${seenA.length}, B ${seenB.length}`).toBeGreaterThan(0);
      expect(seenB.length, `A ${seenA.length}, B ${seenB.length}`).toBeGreaterThan(0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await broker.close();
    }
  });
});

describe("MQTT 5", () => {
  // The embedded broker speaks 3.1.1 only; CI's Mosquitto speaks both.
  test.if(Boolean(process.env.TEST_MQTT_URL))(
    "with protocol version 5 the listener subscribes through the share group and handles runs",
    async () => {
      const url = process.env.TEST_MQTT_URL ?? "";
      const metrics = createMetrics();
      const listener = await startWorldListener(world, url, {
        metrics,
        shareGroup: `g5-${crypto.randomUUID().slice(0, 8)}`,
        broker: { url, protocolVersion: 5, reconnect: { minMs: 50, maxMs: 500 } },
      });
      try {
        await waitFor("subscribed", () => listener.broker.ready(), Boolean);
        await publishRuns(url, world.prefix, [completed("meters-flow")]);
        await waitFor(
          "the tick",
          () => metrics.value(MESSAGES, { outcome: "handled", handler: "meter-tick" }),
          (n) => n === 1,
        );
      } finally {
        await listener.stop();
      }
    },
  );
});

describe("broker login", () => {
  test("with a JWT login the broker sees a client-credentials token as username and `jwt` as password", async () => {
    const logins: { username?: string; password?: string }[] = [];
    const broker = await startEmbeddedBroker({
      authenticate(username, password) {
        logins.push({ username, password });
        return password === "jwt" && typeof username === "string" && username.split(".").length === 3;
      },
    });
    const listener = await startWorldListener(world, broker.url, {
      broker: {
        url: broker.url,
        login: async () => ({ username: await world.platform.tokens.token(), password: "jwt" }),
        reconnect: { minMs: 50, maxMs: 500 },
      },
    });
    try {
      await waitFor("subscribed", () => listener.broker.ready(), Boolean);
      const claims = JSON.parse(
        Buffer.from(logins[0]?.username?.split(".")[1] ?? "", "base64url").toString("utf8"),
      );
      expect(claims.iss).toBe(world.issuer.url);
      expect(claims.azp ?? claims.client_id).toBe("svc-flexibility");
    } finally {
      await listener.stop();
      await broker.close();
    }
  });

  test("a refused login is retried with fresh credentials, not abandoned", async () => {
    let admit = false;
    let attempts = 0;
    const broker = await startEmbeddedBroker({
      authenticate: () => {
        attempts += 1;
        return admit;
      },
    });
    let logins = 0;
    const listener = await startWorldListener(world, broker.url, {
      broker: {
        url: broker.url,
        login: async () => {
          logins += 1;
          return { username: `svc-${logins}`, password: "secret" };
        },
        reconnect: { minMs: 20, maxMs: 100 },
      },
    });
    try {
      await waitFor(
        "refused attempts",
        () => attempts,
        (n) => n >= 3,
      );
      expect(listener.broker.ready()).toBe(false);
      admit = true;
      await waitFor("subscribed", () => listener.broker.ready(), Boolean);
      expect(logins).toBeGreaterThanOrEqual(4);
    } finally {
      await listener.stop();
      await broker.close();
    }
  });
});

describe("redelivery in flight", () => {
  test("a run redelivered while its first delivery is still being handled waits for it, then counts as a duplicate", async () => {
    const broker = await testBrokerUrl();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let calls = 0;
    const metrics = createMetrics();
    const listener = await startWorldListener(world, broker.url, {
      metrics,
      handlers: {
        ...HANDLERS,
        settlement: async () => {
          calls += 1;
          await gate;
          return {};
        },
      },
    });
    try {
      await waitFor("subscribed", () => listener.broker.ready(), Boolean);
      const run = completed("rec-flexibility-flow");
      await publishRuns(broker.url, world.prefix, [run, run]);
      await waitFor(
        "both deliveries in flight",
        () => listener.dispatcher.inFlight(),
        (n) => n === 2,
      );
      release();
      await waitFor(
        "both settled",
        () => listener.dispatcher.inFlight(),
        (n) => n === 0,
      );
      expect(calls).toBe(1);
      expect(metrics.value(MESSAGES, { outcome: "handled", handler: "settlement" })).toBe(1);
      expect(metrics.value(MESSAGES, { outcome: "duplicate", handler: "settlement" })).toBe(1);
    } finally {
      release();
      await listener.stop();
      await broker.close();
    }
  });
});

describe("shutdown", () => {
  test("stop() lets a run in flight finish before disconnecting, and takes no new message", async () => {
    const broker = await testBrokerUrl();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const finished: string[] = [];
    const metrics: Metrics = createMetrics();
    const listener = await startWorldListener(world, broker.url, {
      metrics,
      handlers: {
        ...HANDLERS,
        "meter-tick": async ({ run }) => {
          await gate;
          finished.push(run.run_id);
          return {};
        },
      },
    });
    try {
      await waitFor("subscribed", () => listener.broker.ready(), Boolean);
      const slow = completed("meters-flow");
      await publishRuns(broker.url, world.prefix, [slow]);
      await waitFor(
        "the run in flight",
        () => listener.dispatcher.inFlight(),
        (n) => n === 1,
      );

      const stopping = listener.stop();
      await Bun.sleep(100);
      expect((await listener.readiness()).ready).toBe(false);
      // Published after the stop began: not handled by this replica.
      await publishRuns(broker.url, world.prefix, [completed("meters-flow")]);
      await Bun.sleep(100);
      release();
      expect(await stopping).toEqual({ drained: true });
      expect(finished).toEqual([String(slow.run_id)]);
      expect(metrics.value(MESSAGES, { outcome: "handled", handler: "meter-tick" })).toBe(1);
      expect(listener.broker.state()).toBe("closed");
    } finally {
      release();
      await listener.stop();
      await broker.close();
    }
  });

  test("the drain is bounded: a run that never ends does not hold the stop forever", async () => {
    const broker = await testBrokerUrl();
    const listener = await startWorldListener(world, broker.url, {
      drainTimeoutMs: 200,
      handlers: { ...HANDLERS, "meter-tick": () => new Promise(() => {}) },
    });
    try {
      await waitFor("subscribed", () => listener.broker.ready(), Boolean);
      await publishRuns(broker.url, world.prefix, [completed("meters-flow")]);
      await waitFor(
        "the run in flight",
        () => listener.dispatcher.inFlight(),
        (n) => n === 1,
      );
      expect(await listener.stop()).toEqual({ drained: false });
    } finally {
      await broker.close();
    }
  });
});
