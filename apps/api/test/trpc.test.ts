import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Db } from "@celine/core";
import type { AnyTRPCRouter } from "@trpc/server";
import type { AppRouter, appRouter } from "../src/trpc/router.ts";
import {
  commitmentBody,
  HOOK_TIMEOUT,
  operatorBody,
  SCOPE,
  seedCommitment,
  UNKNOWN_ID,
  WIRE_KEYS,
} from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";
import { createWindowPublisher, type WindowPublisher } from "./published-windows.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";
import { type TrpcClientOptions, trpcClientOf, trpcFailure } from "./trpc-client.ts";

// /trpc/commitments.*: the same verbs, schemas, identity and policy as REST; domain errors mapped
// to tRPC codes. Driven through the real @trpc/client, whose fetch is the app itself.

const SECRET = "could not connect to db.internal:5432 as flex_owner";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type ClientConfig<R extends AnyTRPCRouter> = Omit<R["_def"]["_config"]["$types"], "ctx">;

test("AppRouter, the type clients compile against, is appRouter without the server's request context", () => {
  // Compile-time checks: a drift in procedures, error shape, meta or transformer fails the typecheck.
  const sameProcedures: Equal<AppRouter["_def"]["record"], (typeof appRouter)["_def"]["record"]> = true;
  const sameConfig: Equal<ClientConfig<AppRouter>, ClientConfig<typeof appRouter>> = true;
  expect([sameProcedures, sameConfig]).toEqual([true, true]);
});

let h: Harness;
let broken: Harness;
let fakes: PlatformFakes;
let windows: WindowPublisher;
beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform };
  });
  windows = createWindowPublisher(fakes.dt);
  broken = await createHarness({
    database: {
      db: new Proxy(
        {},
        {
          get() {
            throw new Error(SECRET);
          },
        },
      ) as Db,
      ping: () => Promise.reject(new Error(SECRET)),
    },
  });
}, HOOK_TIMEOUT);
afterAll(async () => {
  await Promise.all([h.close(), broken.close()]);
  await fakes.close();
});

type ClientOptions = TrpcClientOptions & { on?: Harness };

/** A batching client of `h` unless told otherwise. */
const clientFor = ({ batch = true, on = h, ...options }: ClientOptions = {}) =>
  trpcClientOf(on, { ...options, batch });

describe("happy", () => {
  test("a participant creates, lists and cancels their own commitment", async () => {
    const alice = clientFor({ token: await h.participant("alice") });
    const created = await alice.commitments.create.mutate({
      ...windows.publish("alice"),
      user_id: "mallory",
    });
    for (const key of WIRE_KEYS) expect(created, `missing ${key}`).toHaveProperty(key);
    expect(created.user_id).toBe("alice");
    expect(created.status).toBe("committed");
    expect(created).toMatchObject({ community_id: "rec-alice", device_id: "meter-alice", origin: "member" });
    const listed = await alice.commitments.list.query({ limit: 10 });
    expect(listed.total).toBe(1);
    expect(listed.items[0]?.id).toBe(created.id);
    expect(await alice.commitments.cancel.mutate({ id: created.id })).toBeNull();
    const after = await alice.commitments.list.query({ status: "cancelled" });
    expect(after.items.map((c) => c.id)).toEqual([created.id]);
  });

  test("REST and tRPC answer the same object for the same commitment", async () => {
    const token = await h.participant("dora");
    const created = await clientFor({ token }).commitments.create.mutate(windows.publish("dora"));
    const rest = await h.call("GET", "/api/commitments", { token });
    expect(rest.json.items[0]).toEqual(created);
  });

  test("a service claims pending commitments and settles one", async () => {
    const { id } = await seedCommitment(h, {
      userId: "erin",
      periodStart: new Date(Date.now() - 60_000),
      periodEnd: new Date(Date.now() + 3_600_000),
    });
    const reminders = clientFor({ token: await h.service([SCOPE.read]) });
    const claimed = await reminders.commitments.pending.mutate();
    expect(claimed.map((c) => c.id)).toContain(id);
    const settler = clientFor({ token: await h.service([SCOPE.write]) });
    const settled = await settler.commitments.settle.mutate({ id, reward_points_actual: 8, actual_kwh: 1.5 });
    expect(settled).toMatchObject({ id, status: "settled", reward_points_actual: 8, actual_kwh: 1.5 });
  });

  test("an operator (flexibility.admin) records a commitment for a named member", async () => {
    const operator = clientFor({ token: await h.service([SCOPE.admin]) });
    const created = await operator.commitments.create.mutate(operatorBody("olga"));
    expect(created).toMatchObject({ user_id: "olga", device_id: "meter-olga", origin: "operator" });
  });

  test("a service lists a named member", async () => {
    await seedCommitment(h, { userId: "frank" });
    const reader = clientFor({ token: await h.service([SCOPE.read]) });
    expect((await reader.commitments.list.query({ user_id: "frank" })).total).toBe(1);
  });

  test("the proxy header identifies the caller as it does on REST", async () => {
    const viaProxy = clientFor({ headers: { "x-auth-request-access-token": await h.participant("gina") } });
    const created = await viaProxy.commitments.create.mutate(windows.publish("gina"));
    expect(created.user_id).toBe("gina");
  });

  test("unbatched calls (httpLink) work the same", async () => {
    const single = clientFor({ token: await h.participant("hank"), batch: false });
    expect((await single.commitments.list.query({})).total).toBe(0);
  });
});

describe("errors", () => {
  test("unknown commitment → NOT_FOUND (HTTP 404)", async () => {
    const error = await trpcFailure(
      clientFor({ token: await h.participant("alice") }).commitments.cancel.mutate({ id: UNKNOWN_ID }),
    );
    expect(error.data?.code).toBe("NOT_FOUND");
    expect(error.data?.httpStatus).toBe(404);
  });

  test("cancelling twice → CONFLICT (HTTP 409)", async () => {
    const client = clientFor({ token: await h.participant("alice") });
    const created = await client.commitments.create.mutate(windows.publish("alice"));
    await client.commitments.cancel.mutate({ id: created.id });
    const error = await trpcFailure(client.commitments.cancel.mutate({ id: created.id }));
    expect(error.data?.code).toBe("CONFLICT");
    expect(error.data?.httpStatus).toBe(409);
    expect(error.message).toContain("cancelled");
  });

  test("settling twice → CONFLICT", async () => {
    const { id } = await seedCommitment(h, { userId: "ivan" });
    const settler = clientFor({ token: await h.service([SCOPE.write]) });
    await settler.commitments.settle.mutate({ id, reward_points_actual: 1 });
    const error = await trpcFailure(settler.commitments.settle.mutate({ id, reward_points_actual: 2 }));
    expect(error.data?.code).toBe("CONFLICT");
  });

  test.each([
    ["list", (c: ReturnType<typeof clientFor>) => c.commitments.list.query({})],
    ["create", (c: ReturnType<typeof clientFor>) => c.commitments.create.mutate(commitmentBody())],
  ])("a service that does not name user_id (%s) → UNPROCESSABLE_CONTENT naming it", async (_, call) => {
    const token = await h.service([SCOPE.read, SCOPE.admin]);
    const error = await trpcFailure(call(clientFor({ token })));
    expect(error.data?.code).toBe("UNPROCESSABLE_CONTENT");
    expect(error.data?.httpStatus).toBe(422);
    expect(error.message).toContain("user_id");
  });

  test("input that fails the shared schema → UNPROCESSABLE_CONTENT (422, as REST) naming the field", async () => {
    const client = clientFor({ token: await h.participant("alice") });
    const error = await trpcFailure(
      client.commitments.create.mutate(commitmentBody({ period_end: "2026-07-02T10:00:00Z" })),
    );
    expect(error.data?.code).toBe("UNPROCESSABLE_CONTENT");
    expect(error.data?.httpStatus).toBe(422);
    expect(error.message).toContain("period_end");
  });

  test("an unknown procedure → NOT_FOUND", async () => {
    const res = await h.app.request("/trpc/commitments.nope", {
      headers: { authorization: `Bearer ${await h.participant("alice")}` },
    });
    expect(res.status).toBe(404);
  });

  test("an unexpected failure → INTERNAL_SERVER_ERROR with the request id and no internals", async () => {
    const client = clientFor({ token: await broken.participant("alice"), on: broken });
    const error = await trpcFailure(client.commitments.list.query({}));
    expect(error.data?.code).toBe("INTERNAL_SERVER_ERROR");
    const raw = JSON.stringify(error.shape);
    expect(raw).not.toContain("flex_owner");
    expect(raw).not.toContain("db.internal");
    expect(raw).not.toContain(".ts:");
    expect(error.data && "stack" in error.data).toBe(false);
    const withMessages = (value: unknown) =>
      JSON.stringify(value, (_, v) => (v instanceof Error ? { message: v.message } : v));
    const logged = broken.logs.find((l) => l.level === "error" && withMessages(l).includes("flex_owner"));
    expect(logged, "the cause is logged").toBeDefined();
    expect(error.message).toContain(String(logged?.request_id));
  });
});

describe("security", () => {
  test("no token → UNAUTHORIZED (HTTP 401) naming the cause", async () => {
    const error = await trpcFailure(clientFor().commitments.list.query({}));
    expect(error.data?.code).toBe("UNAUTHORIZED");
    expect(error.data?.httpStatus).toBe(401);
    expect(error.message).toContain("missing");
  });

  test("a forged token → UNAUTHORIZED", async () => {
    const error = await trpcFailure(
      clientFor({ token: await h.issuer.mintForged("tampered-payload") }).commitments.list.query({}),
    );
    expect(error.data?.code).toBe("UNAUTHORIZED");
  });

  test.each([
    ["pending", (c: ReturnType<typeof clientFor>) => c.commitments.pending.mutate()],
    [
      "settle",
      (c: ReturnType<typeof clientFor>) =>
        c.commitments.settle.mutate({ id: UNKNOWN_ID, reward_points_actual: 1 }),
    ],
  ])("a participant on the service procedure %s → FORBIDDEN with the policy's reason", async (_, call) => {
    const error = await trpcFailure(call(clientFor({ token: await h.participant("alice") })));
    expect(error.data?.code).toBe("FORBIDDEN");
    expect(error.data?.httpStatus).toBe(403);
    expect(error.message).toBe("action not permitted");
  });

  test("a service with the write scope but not flexibility.admin records nothing → FORBIDDEN naming admin", async () => {
    const writer = clientFor({ token: await h.service([SCOPE.write]) });
    const error = await trpcFailure(writer.commitments.create.mutate(operatorBody("olga")));
    expect(error.data?.code).toBe("FORBIDDEN");
    expect(error.message).toBe("missing scope flexibility.admin");
  });

  test("a service without the write scope → FORBIDDEN naming it", async () => {
    const reader = clientFor({ token: await h.service([SCOPE.read]) });
    const error = await trpcFailure(
      reader.commitments.settle.mutate({ id: UNKNOWN_ID, reward_points_actual: 1 }),
    );
    expect(error.data?.code).toBe("FORBIDDEN");
    expect(error.message).toBe("missing scope flexibility.commitments.write");
  });

  test("a stranger's commitment → NOT_FOUND, and it stays live", async () => {
    const owner = clientFor({ token: await h.participant("alice") });
    const created = await owner.commitments.create.mutate(windows.publish("alice"));
    const mallory = clientFor({ token: await h.participant("mallory") });
    const error = await trpcFailure(mallory.commitments.cancel.mutate({ id: created.id }));
    expect(error.data?.code).toBe("NOT_FOUND");
    const still = await owner.commitments.list.query({ status: "committed", limit: 200 });
    expect(still.items.map((c) => c.id)).toContain(created.id);
  });

  test("a batch of three calls with a bad token: three UNAUTHORIZED answers, one audit record", async () => {
    const before = h.audits().length;
    const client = clientFor({ token: await h.issuer.mintForged("expired") });
    // Queries issued in the same tick travel as one HTTP request.
    const results = await Promise.allSettled([
      client.commitments.list.query({}),
      client.commitments.list.query({ limit: 5 }),
      client.commitments.list.query({ status: "settled" }),
    ]);
    for (const result of results) {
      expect(result.status).toBe("rejected");
      if (result.status === "rejected") expect(result.reason.data?.code).toBe("UNAUTHORIZED");
    }
    const records = h.audits().slice(before);
    expect(records, JSON.stringify(records)).toHaveLength(1);
    expect(records[0]).toMatchObject({ event: "denied", sub: null, reason: "token expired" });
  });
});
