import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { MqttClient } from "mqtt";
import mqtt from "mqtt";
import type { TestBroker } from "../src/index.ts";
import { matchesFilter, startEmbeddedBroker, testBrokerUrl } from "../src/index.ts";

let broker: TestBroker;
const clients: MqttClient[] = [];

beforeAll(async () => {
  broker = await testBrokerUrl();
});
afterAll(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true)));
  await broker.close();
});

async function connect(url: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { connectTimeout: 2000, reconnectPeriod: 100, ...opts });
  clients.push(client);
  return client;
}

// A real broker may be shared across runs: every test uses topics of its own.
function uniqueTopic(name: string): string {
  return `celine/test/${name}/${crypto.randomUUID().slice(0, 8)}`;
}

function collect(
  client: MqttClient,
  count: number,
): Promise<{ topic: string; payload: string; qos: number }[]> {
  const got: { topic: string; payload: string; qos: number }[] = [];
  return new Promise((resolve) => {
    client.on("message", (topic, payload, packet) => {
      got.push({ topic, payload: payload.toString(), qos: packet.qos });
      if (got.length === count) resolve(got);
    });
  });
}

describe("MQTT broker", () => {
  test("a QoS 1 message round-trips, not retained", async () => {
    const topic = uniqueTopic("qos1");
    const subscriber = await connect(broker.url);
    await subscriber.subscribeAsync(`${topic}/+`, { qos: 1 });
    const received = collect(subscriber, 1);
    const publisher = await connect(broker.url);
    await publisher.publishAsync(`${topic}/run-1`, JSON.stringify({ status: "completed" }), { qos: 1 });
    expect(await received).toEqual([{ topic: `${topic}/run-1`, payload: '{"status":"completed"}', qos: 1 }]);

    // Not retained: a late subscriber gets nothing.
    const late = await connect(broker.url);
    let lateCount = 0;
    late.on("message", () => {
      lateCount += 1;
    });
    await late.subscribeAsync(`${topic}/+`, { qos: 1 });
    await Bun.sleep(100);
    expect(lateCount).toBe(0);
  });

  test("shared subscriptions split the messages of a group between its members", async () => {
    const topic = uniqueTopic("shared");
    const a = await connect(broker.url);
    const b = await connect(broker.url);
    const counts = { a: 0, b: 0 };
    a.on("message", () => {
      counts.a += 1;
    });
    b.on("message", () => {
      counts.b += 1;
    });
    await a.subscribeAsync(`$share/listeners/${topic}/+`, { qos: 1 });
    await b.subscribeAsync(`$share/listeners/${topic}/+`, { qos: 1 });
    const publisher = await connect(broker.url);
    for (let i = 0; i < 10; i += 1) await publisher.publishAsync(`${topic}/run-${i}`, String(i), { qos: 1 });
    const deadline = Date.now() + 3000;
    while (counts.a + counts.b < 10 && Date.now() < deadline) await Bun.sleep(20);
    await Bun.sleep(100);
    expect(counts.a + counts.b).toBe(10);
    expect(counts.a).toBeGreaterThan(0);
    expect(counts.b).toBeGreaterThan(0);
  });

  test("the embedded broker restarts on the same port and clients reconnect", async () => {
    const first = await startEmbeddedBroker();
    const topic = uniqueTopic("restart");
    const subscriber = await connect(first.url, { clean: true });
    await subscriber.subscribeAsync(topic, { qos: 1 });
    await first.close();
    const second = await startEmbeddedBroker({ port: first.port });
    try {
      expect(second.url).toBe(first.url);
      await new Promise<void>((resolve) => subscriber.once("connect", () => resolve()));
      // A clean session lost its subscription with the broker; the client subscribes again.
      await subscriber.subscribeAsync(topic, { qos: 1 });
      const received = collect(subscriber, 1);
      const publisher = await connect(second.url);
      await publisher.publishAsync(topic, "after restart", { qos: 1 });
      expect((await received)[0]?.payload).toBe("after restart");
    } finally {
      await subscriber.endAsync(true);
      await second.close();
    }
  });

  test("login can be refused", async () => {
    const guarded = await startEmbeddedBroker({
      authenticate: (user, pass) => user === "svc" && pass === "jwt",
    });
    try {
      const ok = await connect(guarded.url, { username: "svc", password: "jwt" });
      expect(ok.connected).toBe(true);
      await ok.endAsync(true);
      await expect(
        mqtt.connectAsync(guarded.url, { username: "svc", password: "nope", reconnectPeriod: 0 }),
      ).rejects.toThrow();
    } finally {
      await guarded.close();
    }
  });

  test("topic filters match as MQTT defines", () => {
    expect(matchesFilter("celine/pipelines/runs/+", "celine/pipelines/runs/meters-flow")).toBe(true);
    expect(matchesFilter("celine/pipelines/runs/+", "celine/pipelines/runs/a/b")).toBe(false);
    expect(matchesFilter("celine/#", "celine/pipelines/runs/a")).toBe(true);
    expect(matchesFilter("celine/+", "celine")).toBe(false);
  });
});
