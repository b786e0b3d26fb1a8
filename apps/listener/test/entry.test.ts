import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import type { Database } from "@celine/core/db";
import { createTestDatabase } from "@celine/core/testing";
import { testBrokerUrl } from "@celine/fakes";
import { DEFAULT_FLOWS, parseListenerEnv } from "../src/env.ts";
import { completed, publishRuns, waitFor } from "./fixtures.ts";

// Configuration and the process itself: `bun run listener` as an operator starts it.

// Starting a process with an embedded database takes seconds on a busy machine.
setDefaultTimeout(60_000);

const ENTRY = join(import.meta.dir, "../src/index.ts");

describe("configuration", () => {
  test("defaults: port 8018, MQTT 3.1.1, no share group, the documented flow map", () => {
    const env = parseListenerEnv({});
    expect(env.LISTENER_PORT).toBe(8018);
    expect(env.CELINE_MQTT_PROTOCOL_VERSION).toBe(4);
    expect(env.LISTENER_SHARE_GROUP).toBeUndefined();
    expect(env.LISTENER_FLOWS).toEqual(DEFAULT_FLOWS);
    expect(DEFAULT_FLOWS).toEqual({
      "meters-flow": "meter-tick",
      "rec-metering-flow": "meter-tick",
      "rec-forecasting-flow": "opportunities",
      "rec-flexibility-flow": "settlement",
    });
  });

  test("the flow map, protocol version and share group are configurable; MQTT__ spellings are accepted", () => {
    const env = parseListenerEnv({
      LISTENER_FLOWS: '{"my-meter-flow":"meter-tick"}',
      CELINE_MQTT_PROTOCOL_VERSION: "5",
      LISTENER_SHARE_GROUP: "flexibility",
      MQTT__TOPIC_PREFIX: "staging",
    });
    expect(env.LISTENER_FLOWS).toEqual({ "my-meter-flow": "meter-tick" });
    expect(env.CELINE_MQTT_PROTOCOL_VERSION).toBe(5);
    expect(env.LISTENER_SHARE_GROUP).toBe("flexibility");
    expect(env.CELINE_MQTT_TOPIC_PREFIX).toBe("staging");
  });

  test.each([
    [{ LISTENER_FLOWS: "{meters-flow: meter-tick}" }, "LISTENER_FLOWS: not JSON"],
    [{ LISTENER_FLOWS: '{"meters-flow":"reminders"}' }, "LISTENER_FLOWS.meters-flow: handler must be one of"],
    [{ CELINE_MQTT_PROTOCOL_VERSION: "3" }, "CELINE_MQTT_PROTOCOL_VERSION"],
    [{ LISTENER_SHARE_GROUP: "a/b" }, "LISTENER_SHARE_GROUP: must not contain"],
    [{ LISTENER_PORT: "http" }, "LISTENER_PORT"],
  ])("%o is refused, naming the setting", (env, expected) => {
    expect(() => parseListenerEnv(env)).toThrow(expected);
  });
});

async function run(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(["bun", ENTRY], {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

describe("the process", () => {
  test("outside CELINE_ENV=dev an insecure configuration is refused, every problem named at once", async () => {
    const { code, stderr } = await run({
      DATABASE_URL: "postgres://flex:postgres@db:5432/flex",
      CELINE_OIDC_CLIENT_SECRET: "",
    });
    expect(code, stderr).toBe(1);
    expect(stderr).toContain("refusing to start");
    expect(stderr).toContain("DATABASE_URL carries a development password");
    expect(stderr).toContain("CELINE_OIDC_CLIENT_SECRET is empty");
    expect(stderr).toContain("CELINE_OIDC_BASE_URL is left at a local default");
  });

  test("an invalid setting stops the start with its name", async () => {
    const { code, stderr } = await run({ CELINE_ENV: "dev", LISTENER_FLOWS: '{"x":"nope"}' });
    expect(code, stderr).toBe(1);
    expect(stderr).toContain("LISTENER_FLOWS.x");
  });

  describe("running", () => {
    let database: Database | undefined;
    let broker: { url: string; close(): Promise<void> };
    beforeAll(async () => {
      broker = await testBrokerUrl();
      if (process.env.DATABASE_URL) database = await createTestDatabase();
    });
    afterAll(async () => {
      await database?.close();
      await broker?.close();
    });

    test("`bun run listener` subscribes, handles a run, and on SIGTERM stops cleanly (exit 0)", async () => {
      const url = new URL(broker.url);
      const prefix = `test-${crypto.randomUUID().slice(0, 8)}`;
      const proc = Bun.spawn(["bun", ENTRY], {
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          CELINE_ENV: "dev",
          LISTENER_PORT: "0",
          CELINE_MQTT_HOST: url.hostname,
          CELINE_MQTT_PORT: url.port,
          CELINE_MQTT_TOPIC_PREFIX: prefix,
          LOG_LEVEL: "debug",
          ...(database && process.env.DATABASE_URL
            ? { DATABASE_URL: process.env.DATABASE_URL, DB_SCHEMA: database.schema }
            : {}),
        },
        stdout: "pipe",
        stderr: "pipe",
      });
      const lines: Record<string, unknown>[] = [];
      const reading = (async () => {
        const decoder = new TextDecoder();
        let buffered = "";
        const reader = proc.stdout.getReader();
        for (let next = await reader.read(); !next.done; next = await reader.read()) {
          buffered += decoder.decode(next.value, { stream: true });
          const parts = buffered.split("\n");
          buffered = parts.pop() ?? "";
          for (const part of parts) if (part.trim()) lines.push(JSON.parse(part));
        }
      })();
      const saw = (msg: string) => lines.some((l) => l.msg === msg);
      try {
        await waitFor("subscribed", () => saw("subscribed"), Boolean, 45_000);
        await publishRuns(broker.url, prefix, [completed("some-other-flow"), completed("meters-flow")]);
        await waitFor("the run handled", () => saw("run handled"), Boolean);
        proc.kill("SIGTERM");
        expect(await proc.exited).toBe(0);
        await reading;
        expect(lines.find((l) => l.msg === "listener stopped")).toMatchObject({ drained: true });
      } finally {
        proc.kill("SIGKILL");
      }
    });
  });
});
