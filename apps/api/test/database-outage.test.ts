import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { jsonSink, type LogRecord } from "@celine/core";
import { connectPostgres, type Database, MIGRATIONS_FOLDER, migratePostgres } from "@celine/core/db";
import {
  freePort,
  postgresBinaries,
  startThrowawayPostgres,
  type ThrowawayPostgres,
} from "@celine/core/testing";
import { HOOK_TIMEOUT } from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";

// Issue 14, item 2: PostgreSQL really stopped (a cluster of this test's own, never the machine's
// shared one) → 503 problem+json with Retry-After within the connect bound, the driver's cause and
// code in the log and never the query's parameters, /ready 503; started again → served again, no
// restart. And a server that accepts connections but never answers → the same 503 once the connect
// timeout (2 s) runs out.

setDefaultTimeout(60_000);

/** connect_timeout (2 s) + the longest wait between attempts to connect (0.5 s) + slack for a loaded CI. */
const BOUND_MS = 3_500;
const SCHEMA = "flexibility";
/** A commitment id and a member only this test uses: neither may reach the log. */
const PROBED_ID = "7e1d0c3a-5b2f-4c8e-9a71-3f6b2d8c4e10";
const MEMBER = "outage-member-4711";

const binaries = postgresBinaries();
if ("missing" in binaries) console.log(`database-outage.test.ts: skipped, ${binaries.missing}`);

/** The line as it would be written (the JSON sink's serialisation). */
function written(record: LogRecord | undefined): string {
  let line = "";
  const original = console.log;
  console.log = (text: string) => {
    line = text;
  };
  try {
    if (record) jsonSink(record);
  } finally {
    console.log = original;
  }
  return line;
}

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const result = await work();
  return [result, performance.now() - started];
}

describe.skipIf("missing" in binaries)("PostgreSQL stopped and started again", () => {
  let cluster: ThrowawayPostgres;
  let database: Database;
  let h: Harness;
  let token: string;
  beforeAll(async () => {
    if ("missing" in binaries) return;
    cluster = await startThrowawayPostgres(binaries.bin);
    await migratePostgres({ url: cluster.url, schema: SCHEMA, folder: MIGRATIONS_FOLDER });
    database = connectPostgres({ url: cluster.url, schema: SCHEMA, max: 4 });
    h = await createHarness({ database });
    token = await h.participant(MEMBER);
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await h?.close();
    await database?.close();
    await cluster?.destroy();
  });

  const progress = () => h.call("GET", `/api/commitments/${PROBED_ID}/progress`, { token });

  test("up: served (404 for the unknown commitment, 200 for the list), /ready 200", async () => {
    expect((await progress()).status).toBe(404);
    const list = await h.call("GET", "/api/commitments", { token });
    expect(list.status, list.text).toBe(200);
    expect((await h.call("GET", "/ready")).status).toBe(200);
  });

  test("down: 503 problem+json with Retry-After within the bound, every time; the cause logged without the parameters; /ready 503", async () => {
    await cluster.stop();
    // Repeated: postgres.js's own backoff between attempts grew past 5 s after a few failures.
    for (let i = 0; i < 12; i += 1) {
      const [res, ms] = await timed(progress);
      expect(res.status, res.text).toBe(503);
      expect(ms).toBeLessThan(BOUND_MS);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(res.headers.get("retry-after")).toBe("5");
      expect(res.json.detail).toBe("the database is unavailable; retry later");
      expect(res.text).not.toContain("127.0.0.1");
      expect(res.text).not.toContain("ECONNREFUSED");
    }
    const [list, listMs] = await timed(() => h.call("GET", "/api/commitments", { token }));
    expect(list.status, list.text).toBe(503);
    expect(listMs).toBeLessThan(BOUND_MS);

    const lines = h.logs.filter((l) => l.msg === "database unavailable");
    expect(lines.length).toBeGreaterThanOrEqual(13);
    for (const record of lines) {
      const line = written(record);
      // The driver's reason and code, under drizzle's wrapper.
      expect(line, line).toContain('"code":"ECONNREFUSED"');
      expect(line).toContain("connect ECONNREFUSED 127.0.0.1");
      // Never the query's parameters (the commitment id, the member), nor drizzle's "params:".
      expect(line).not.toContain(PROBED_ID);
      expect(line).not.toContain(MEMBER);
      expect(line).not.toContain("params");
    }
    // The statement text is kept (it holds placeholders, not values).
    expect(written(lines[0])).toContain("Failed query: select");

    const [ready, readyMs] = await timed(() => h.call("GET", "/ready"));
    expect(ready.status, ready.text).toBe(503);
    expect(readyMs).toBeLessThan(BOUND_MS);
    expect(ready.json.checks.database).toEqual({ ok: false, detail: "unreachable" });
    expect(ready.text).not.toContain(String(cluster.port));
  });

  test("down, over tRPC: SERVICE_UNAVAILABLE (HTTP 503) with Retry-After, the cause logged", async () => {
    const before = h.logs.length;
    const input = encodeURIComponent(JSON.stringify({ id: PROBED_ID }));
    const [res, ms] = await timed(async () =>
      h.app.request(`/trpc/commitments.progress?input=${input}`, {
        headers: { authorization: `Bearer ${token}` },
      }),
    );
    const body = await res.text();
    expect(res.status, body).toBe(503);
    expect(ms).toBeLessThan(BOUND_MS);
    expect(res.headers.get("retry-after")).toBe("5");
    expect(JSON.parse(body).error.message).toBe("the database is unavailable; retry later");
    expect(body).not.toContain("ECONNREFUSED");
    const logged = h.logs.slice(before).find((l) => l.msg === "database unavailable");
    expect(written(logged)).toContain('"code":"ECONNREFUSED"');
    expect(written(logged)).not.toContain(MEMBER);
  });

  test("started again: served without a restart, /ready 200", async () => {
    await cluster.start();
    const res = await progress();
    expect(res.status, res.text).toBe(404);
    expect((await h.call("GET", "/api/commitments", { token })).status).toBe(200);
    const ready = await h.call("GET", "/ready");
    expect(ready.status, ready.text).toBe(200);
  });
});

describe("a server that accepts connections and never answers", () => {
  let silent: Server;
  let database: Database;
  let h: Harness;
  beforeAll(async () => {
    const port = await freePort();
    silent = createServer(() => {}); // holds every socket open, says nothing
    await new Promise<void>((resolve) => silent.listen(port, "127.0.0.1", resolve));
    database = connectPostgres({ url: `postgres://flex:x@127.0.0.1:${port}/flex`, schema: SCHEMA });
    h = await createHarness({ database });
  }, HOOK_TIMEOUT);
  afterAll(async () => {
    await h?.close();
    await database?.close();
    silent?.close();
  });

  test("503 with Retry-After once the 2 s connect timeout runs out; CONNECT_TIMEOUT logged; /ready 503", async () => {
    const token = await h.participant(MEMBER);
    const [res, ms] = await timed(() => h.call("GET", "/api/commitments", { token }));
    expect(res.status, res.text).toBe(503);
    expect(ms).toBeGreaterThanOrEqual(1_900);
    expect(ms).toBeLessThan(BOUND_MS);
    expect(res.headers.get("retry-after")).toBe("5");
    const line = written(h.logs.find((l) => l.msg === "database unavailable"));
    expect(line, line).toContain('"code":"CONNECT_TIMEOUT"');
    const [ready, readyMs] = await timed(() => h.call("GET", "/ready"));
    expect(ready.status, ready.text).toBe(503);
    expect(readyMs).toBeLessThan(BOUND_MS);
  });
});
