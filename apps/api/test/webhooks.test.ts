import {
  afterAll,
  afterEach,
  beforeAll,
  beforeEach,
  describe,
  expect,
  setDefaultTimeout,
  test,
} from "bun:test";
import {
  CommitmentOut,
  createLogger,
  DEFAULT_CORE_CONFIG,
  forbiddenAddress,
  type Platform,
  type RelayOptions,
  relayOutboxOnce,
  WEBHOOK_BACKOFF,
  WEBHOOK_EVENT_BODIES,
  type WebhookRequest,
  type WebhookSender,
} from "@celine/core";
import { commitments, outbox, webhooks } from "@celine/core/db";
import { startWebhookReceiver, type WebhookReceiver } from "@celine/fakes";
import { createWebhookSender } from "@celine/platform";
import { and, asc, eq, min, sql } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import {
  createClock,
  expectFieldError,
  expectProblem,
  HOOK_TIMEOUT,
  operatorBody,
  SCOPE,
} from "./fixtures.ts";
import { createHarness, type Harness, type Json } from "./harness.ts";
import { createWindowPublisher, type WindowPublisher } from "./published-windows.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";

// Signed webhooks for integrators (issue 13 item 4), end to end: the real app, policy and JWT crypto,
// a fresh database, the DT and nudging contract fakes, the outbox relay (rounds run by hand on a
// clock the test moves) and real HTTP receivers on loopback, whose deliveries are verified with the
// `standardwebhooks` package as an integrator would. `dev` runs with CELINE_ENV=dev's rule (http and
// loopback targets allowed); `hardened` with the production rule and a resolver the test controls.

setDefaultTimeout(60_000);

const START = "2026-07-01T06:00:00.000Z";
const clock = createClock(START);
const quiet = createLogger({ level: "silent" });

let dev: Harness;
let hardened: Harness;
let fakes: PlatformFakes;
let windows: WindowPublisher;
let receiver: WebhookReceiver;
let operator: string;
/** MQTT messages the relay handed to the (recording) publisher. */
const published: { topic: string; payload: unknown }[] = [];
/** What the hardened app's resolver answers, by host name (unknown names: the system's resolver). */
const dns = new Map<string, string[]>();
/**
 * POSTs the hardened relay attempted (none may reach a refused target). Those pinned to a public
 * address are answered here, standing in for the internet this machine cannot reach.
 */
const hardenedPosts: WebhookRequest[] = [];

beforeAll(async () => {
  receiver = startWebhookReceiver();
  dev = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return {
      platform: fakes.platform,
      now: clock.now,
      core: { ...DEFAULT_CORE_CONFIG, allowPrivateWebhookTargets: true },
    };
  });
  windows = createWindowPublisher(fakes.dt, clock.now);
  const system = createWebhookSender({ metrics: dev.deps.metrics, log: quiet });
  const sender = createWebhookSender({
    metrics: dev.deps.metrics,
    log: quiet,
    lookup: async (host) => {
      const answer = dns.get(host);
      return answer
        ? answer.map((address) => ({ address }))
        : (await system.resolve(host)).map((address) => ({ address }));
    },
  });
  const counted: WebhookSender = {
    resolve: (host) => sender.resolve(host),
    post: (request) => {
      hardenedPosts.push(request);
      if (request.addresses?.every((a) => forbiddenAddress(a) === null))
        return Promise.resolve({ status: 204 });
      return sender.post(request);
    },
  };
  hardened = await createHarness({
    platform: { ...fakes.platform, webhooks: counted },
    now: clock.now,
    core: DEFAULT_CORE_CONFIG,
  });
  operator = await dev.service([SCOPE.admin], "svc-integrations");
}, HOOK_TIMEOUT);

afterAll(async () => {
  await Promise.all([dev?.close(), hardened?.close(), fakes?.close(), receiver?.close()]);
});

beforeEach(async () => {
  clock.set(START);
  receiver.reset();
  receiver.clear();
  published.length = 0;
  for (const h of [dev, hardened]) {
    await h.database.db.execute(sql`truncate ${webhooks}, ${outbox}`);
    await h.database.db
      .update(commitments)
      .set({ status: "cancelled" })
      .where(eq(commitments.status, "committed"));
  }
});

afterEach(() => {
  dns.clear();
});

const relayPlatform = (h: Harness): Pick<Platform, "publisher" | "nudging" | "webhooks"> => ({
  publisher: {
    publish: async (topic, payload) => {
      published.push({ topic, payload });
    },
  },
  nudging: fakes.platform.nudging,
  webhooks: (h.deps.platform ?? fakes.platform).webhooks,
});

/** One relay round as the dev stack's relay runs it (CELINE_ENV=dev), or the hardened one's. */
function round(h: Harness = dev, over: Partial<RelayOptions> = {}) {
  return relayOutboxOnce({
    db: h.database.db,
    platform: relayPlatform(h),
    log: quiet,
    metrics: h.deps.metrics,
    now: clock.now,
    timeoutMs: 2_000,
    allowPrivateWebhookTargets: h === dev,
    ...over,
  });
}

/** Relay rounds until nothing is due at the clock's time. */
async function deliverDue(h: Harness = dev, over: Partial<RelayOptions> = {}) {
  for (let i = 0; i < 50; i += 1) if ((await round(h, over)).claimed === 0) return;
  throw new Error("the relay kept finding work");
}

const targetUrl = (path = "/hook") => `${receiver.url}${path}`;

async function subscribe(token: string, body: Json, h: Harness = dev) {
  const res = await h.call("POST", "/api/webhooks", { token, body });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string; secret: string } & Json;
}

/**
 * The deliveries to `path`, each verified with the `standardwebhooks` package as an integrator would,
 * and held to its event's documented body (the OpenAPI document's `webhooks`).
 */
function verified(secret: string, path = "/hook") {
  return receiver.received
    .filter((r) => r.path === path && r.status >= 200 && r.status < 300)
    .map((r) => {
      const message = new Webhook(secret).verify(r.body, r.headers) as Json;
      const documented = WEBHOOK_EVENT_BODIES[message.type as keyof typeof WEBHOOK_EVENT_BODIES];
      expect(documented, `undocumented event ${message.type}`).toBeDefined();
      expect(documented.strict().parse(message)).toEqual(message);
      return { id: r.headers["webhook-id"], message };
    });
}

const typesOf = (deliveries: { message: Json }[]) => deliveries.map((d) => d.message.type);

async function webhookEntries(h: Harness = dev) {
  return h.database.db.select().from(outbox).where(eq(outbox.kind, "webhook")).orderBy(asc(outbox.id));
}

async function listed(token: string, h: Harness = dev) {
  const res = await h.call("GET", "/api/webhooks", { token });
  expect(res.status, res.text).toBe(200);
  return res.json.items as Json[];
}

/** A member's commitment through accept (respond), in their community. */
async function accept(sub: string, community?: string) {
  const window = windows.publish(sub, community ? { community } : {});
  const res = await dev.call("POST", `/api/suggestions/${window.suggestion_id}/respond`, {
    token: await dev.participant(sub),
    body: { response: "accepted" },
  });
  expect(res.status, res.text).toBe(200);
  return res.json.commitment_id as string;
}

async function commitmentAsListed(sub: string, id: string) {
  const res = await dev.call("GET", "/api/commitments?limit=200", { token: await dev.participant(sub) });
  expect(res.status, res.text).toBe(200);
  const item = res.json.items.find((c: Json) => c.id === id);
  expect(item, res.text).toBeDefined();
  return item;
}

describe("happy: managing subscriptions", () => {
  test("a member subscribes (the secret once, all five events by default), lists without secrets, deletes", async () => {
    const token = await dev.participant("wh-alice");
    const created = await subscribe(token, { url: targetUrl() });
    expect(created).toMatchObject({
      url: targetUrl(),
      events: [
        "commitment.created",
        "commitment.cancelled",
        "commitment.settled",
        "commitment.restated",
        "window.opportunity",
      ],
      user_id: "wh-alice",
      community_id: null,
      status: "enabled",
      disabled_at: null,
      disabled_reason: null,
    });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    clock.advance(1_000);
    const second = await subscribe(token, { url: targetUrl("/other"), events: ["commitment.cancelled"] });
    expect(second.events).toEqual(["commitment.cancelled"]);

    const items = await listed(token);
    expect(items.map((w) => w.id)).toEqual([created.id, second.id]);
    for (const item of items) expect(item).not.toHaveProperty("secret");
    expect(JSON.stringify(items)).not.toContain(created.secret);

    const deleted = await dev.call("DELETE", `/api/webhooks/${created.id}`, { token });
    expect(deleted.status, deleted.text).toBe(204);
    expect((await listed(token)).map((w) => w.id)).toEqual([second.id]);
    expectProblem(await dev.call("DELETE", `/api/webhooks/${created.id}`, { token }), 404);
  });

  test("POST /api/webhooks/{id}/test: a signed webhook.test through the relay, verified with standardwebhooks", async () => {
    const token = await dev.participant("wh-bob");
    const hook = await subscribe(token, { url: targetUrl("/bob") });
    const res = await dev.call("POST", `/api/webhooks/${hook.id}/test`, { token });
    expect(res.status, res.text).toBe(202);
    expect(res.json.message_id).toMatch(/^msg_[0-9a-f]{32}$/);

    await deliverDue();
    const [delivery] = verified(hook.secret, "/bob");
    expect(delivery?.id).toBe(res.json.message_id);
    expect(delivery?.message).toEqual({
      type: "webhook.test",
      timestamp: clock.now().toISOString(),
      data: { webhook_id: hook.id },
    });
    const raw = receiver.received.find((r) => r.path === "/bob");
    expect(raw?.headers["content-type"]).toBe("application/json");
    expect(raw?.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    // Signed now (real time): a receiver checks the timestamp against its own clock.
    expect(Math.abs(Number(raw?.headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(60);
    // Another secret does not verify it.
    const other = await subscribe(token, { url: targetUrl("/bob2") });
    expect(() => new Webhook(other.secret).verify(raw?.body ?? "", raw?.headers ?? {})).toThrow(
      /No matching signature/,
    );
  });

  test("tRPC webhooks.create, list, test and delete do the same", async () => {
    const token = await dev.participant("wh-trpc");
    const created = await dev.call("POST", "/trpc/webhooks.create", {
      token,
      body: { url: targetUrl("/trpc"), events: ["window.opportunity"] },
    });
    expect(created.status, created.text).toBe(200);
    const hook = created.json.result.data;
    expect(hook).toMatchObject({ events: ["window.opportunity"], status: "enabled", user_id: "wh-trpc" });
    expect(hook.secret).toMatch(/^whsec_/);
    const list = await dev.call("GET", "/trpc/webhooks.list", { token });
    expect(list.json.result.data.items.map((w: Json) => w.id)).toEqual([hook.id]);
    const tested = await dev.call("POST", "/trpc/webhooks.test", { token, body: { id: hook.id } });
    expect(tested.json.result.data.message_id, tested.text).toMatch(/^msg_/);
    await deliverDue();
    expect(typesOf(verified(hook.secret, "/trpc"))).toEqual(["webhook.test"]);
    const removed = await dev.call("POST", "/trpc/webhooks.delete", { token, body: { id: hook.id } });
    expect(removed.status, removed.text).toBe(200);
    expect((await listed(token)).length).toBe(0);
  });

  test("a service with flexibility.admin subscribes to a community, lists and deletes only what it created", async () => {
    const hook = await subscribe(operator, { url: targetUrl("/community"), community_id: "rec-wh" });
    expect(hook).toMatchObject({ community_id: "rec-wh", user_id: null, status: "enabled" });
    const another = await dev.service([SCOPE.admin], "svc-other");
    expect(await listed(operator)).toHaveLength(1);
    expect(await listed(another)).toHaveLength(0);
    expectProblem(await dev.call("DELETE", `/api/webhooks/${hook.id}`, { token: another }), 404);
    expectProblem(await dev.call("POST", `/api/webhooks/${hook.id}/test`, { token: another }), 404);
    // Nor does a member of the community see or delete it.
    const member = await dev.participant("wh-member");
    expect(await listed(member)).toHaveLength(0);
    expectProblem(await dev.call("DELETE", `/api/webhooks/${hook.id}`, { token: member }), 404);
    expect((await dev.call("DELETE", `/api/webhooks/${hook.id}`, { token: operator })).status).toBe(204);
  });

  test("deleting a subscription drops what was still to be sent to it", async () => {
    const token = await dev.participant("wh-dropper");
    const hook = await subscribe(token, { url: targetUrl("/dropped") });
    await dev.call("POST", `/api/webhooks/${hook.id}/test`, { token });
    expect((await dev.call("DELETE", `/api/webhooks/${hook.id}`, { token })).status).toBe(204);
    expect((await webhookEntries()).map((e) => [e.status, e.lastError])).toEqual([
      ["dropped", "webhook deleted"],
    ]);
    await deliverDue();
    expect(receiver.received.filter((r) => r.path === "/dropped")).toHaveLength(0);
  });
});

describe("happy: events, emitted by their verbs with the REST shape", () => {
  test("accept → commitment.created to the member's own subscription and their community's, equal to the listed commitment", async () => {
    const mine = await subscribe(await dev.participant("wh-carol"), { url: targetUrl("/carol") });
    const community = await subscribe(operator, { url: targetUrl("/rec-carol"), community_id: "rec-carol" });
    const elsewhere = await subscribe(operator, {
      url: targetUrl("/rec-elsewhere"),
      community_id: "rec-elsewhere",
    });
    const id = await accept("wh-carol", "rec-carol");

    await deliverDue();
    const item = await commitmentAsListed("wh-carol", id);
    for (const [hook, path] of [
      [mine, "/carol"],
      [community, "/rec-carol"],
    ] as const) {
      const [delivery] = verified(hook.secret, path);
      expect(delivery?.message.type).toBe("commitment.created");
      expect(delivery?.message.data).toEqual(item);
      expect(CommitmentOut.parse(delivery?.message.data)).toEqual(item);
    }
    expect(verified(elsewhere.secret, "/rec-elsewhere")).toHaveLength(0);
    // The same message (one webhook-id) to both.
    expect(new Set(receiver.received.map((r) => r.headers["webhook-id"])).size).toBe(1);
  });

  test("an operator's POST /api/commitments → commitment.created, the MQTT committed event and the confirmation; no reminder for a window already over", async () => {
    const hook = await subscribe(await dev.participant("wh-dan"), { url: targetUrl("/dan") });
    // A window that ended yesterday (operatorBody's own hours may lie anywhere after `now`).
    const start = new Date(clock.now().getTime() - 86_400_000);
    const res = await dev.call("POST", "/api/commitments", {
      token: operator,
      body: operatorBody("wh-dan", clock.now(), {
        period_start: start.toISOString(),
        period_end: new Date(start.getTime() + 3_600_000).toISOString(),
      }),
    });
    expect(res.status, res.text).toBe(201);
    const queued = await dev.database.db.select().from(outbox).where(eq(outbox.commitmentId, res.json.id));
    expect(queued.map((e) => [e.kind, e.target]).sort()).toEqual(
      [
        ["mqtt", "celine/flexibility/committed/wh-dan"],
        ["nudge", "flexibility_committed"],
        ["webhook", hook.id],
      ].sort(),
    );

    await deliverDue();
    const [delivery] = verified(hook.secret, "/dan");
    expect(delivery?.message).toMatchObject({ type: "commitment.created", data: res.json });
    expect(published).toEqual([
      {
        topic: "celine/flexibility/committed/wh-dan",
        payload: expect.objectContaining({ commitment_id: res.json.id, user_id: "wh-dan" }),
      },
    ]);
  });

  test("an operator's commitment for a window ahead gets its reminder held, as an accept's does", async () => {
    const res = await dev.call("POST", "/api/commitments", {
      token: operator,
      body: operatorBody("wh-dina", clock.now()),
    });
    expect(res.status, res.text).toBe(201);
    const queued = await dev.database.db.select().from(outbox).where(eq(outbox.commitmentId, res.json.id));
    const reminder = queued.find((e) => e.target === "flexibility_reminder");
    expect(reminder?.requiresLive).toBe(true);
    expect(reminder?.dueAt.getTime()).toBe(new Date(res.json.period_start).getTime() - 30 * 60_000);
  });

  test("DELETE /api/commitments/{id} → commitment.cancelled, after commitment.created", async () => {
    const token = await dev.participant("wh-erin");
    const hook = await subscribe(token, { url: targetUrl("/erin") });
    const id = await accept("wh-erin");
    expect((await dev.call("DELETE", `/api/commitments/${id}`, { token })).status).toBe(204);

    await deliverDue();
    const deliveries = verified(hook.secret, "/erin");
    expect(typesOf(deliveries)).toEqual(["commitment.created", "commitment.cancelled"]);
    expect(deliveries[1]?.message.data).toEqual(await commitmentAsListed("wh-erin", id));
    expect(deliveries[1]?.message.data.status).toBe("cancelled");
  });

  test("PATCH /api/commitments/{id}/settle → commitment.settled with the settled commitment", async () => {
    const hook = await subscribe(await dev.participant("wh-fay"), {
      url: targetUrl("/fay"),
      events: ["commitment.settled"],
    });
    const id = await accept("wh-fay");
    const settled = await dev.call("PATCH", `/api/commitments/${id}/settle`, {
      token: operator,
      body: { reward_points_actual: 7, actual_kwh: 1.25 },
    });
    expect(settled.status, settled.text).toBe(200);

    await deliverDue();
    const deliveries = verified(hook.secret, "/fay");
    // Subscribed to settlements only: no commitment.created.
    expect(typesOf(deliveries)).toEqual(["commitment.settled"]);
    expect(deliveries[0]?.message.data).toEqual(settled.json);
    expect(deliveries[0]?.message.data).toMatchObject({ status: "settled", reward_points_actual: 7 });
  });

  test("a disabled subscription gets nothing new", async () => {
    const token = await dev.participant("wh-gil");
    const hook = await subscribe(token, { url: targetUrl("/gil") });
    await dev.database.db
      .update(webhooks)
      .set({ disabledAt: clock.now(), disabledReason: "disabled by the test" })
      .where(eq(webhooks.id, hook.id));
    await accept("wh-gil");
    expect(await webhookEntries()).toHaveLength(0);
  });
});

describe("delivery: at least once, in order, back-off, then disabled", () => {
  test("a receiver answering 500 then 200 gets created then cancelled once it recovers; the member's other side effects do not wait", async () => {
    const token = await dev.participant("wh-hal");
    const hook = await subscribe(token, { url: targetUrl("/hal") });
    receiver.respondWith(500, 2);
    const id = await accept("wh-hal");
    expect((await dev.call("DELETE", `/api/commitments/${id}`, { token })).status).toBe(204);

    await deliverDue();
    expect(receiver.received.map((r) => r.status)).toEqual([500]);
    // The failing receiver holds up neither the MQTT event nor the confirmation of the commitment.
    const others = await dev.database.db
      .select({ kind: outbox.kind, target: outbox.target, status: outbox.status })
      .from(outbox)
      .where(and(eq(outbox.commitmentId, id), sql`${outbox.kind} <> 'webhook'`));
    expect(others.filter((e) => e.target !== "flexibility_reminder").map((e) => e.status)).toEqual([
      "delivered",
      "delivered",
    ]);
    const [created, cancelled] = await webhookEntries();
    expect(created).toMatchObject({ status: "pending", attempts: 1, lastError: "the receiver answered 500" });
    expect(cancelled).toMatchObject({ status: "pending", attempts: 0 });
    // Back-off from the relay's clock: 5 s, then 10 s.
    expect(created?.nextAttemptAt.getTime()).toBe(clock.now().getTime() + WEBHOOK_BACKOFF.baseMs);
    const [failing] = await dev.database.db.select().from(webhooks).where(eq(webhooks.id, hook.id));
    expect(failing?.failingSince).toEqual(clock.now());

    clock.advance(5_000);
    await deliverDue();
    clock.advance(10_000);
    await deliverDue();
    expect(receiver.received.map((r) => r.status)).toEqual([500, 500, 200, 200]);
    expect(typesOf(verified(hook.secret, "/hal"))).toEqual(["commitment.created", "commitment.cancelled"]);
    // A success ends the run of failures.
    const [recovered] = await dev.database.db.select().from(webhooks).where(eq(webhooks.id, hook.id));
    expect(recovered?.failingSince).toBeNull();
    expect((await listed(token))[0]).toMatchObject({ status: "enabled" });
  });

  test("a receiver too slow to answer is a failure retried like a 500", async () => {
    const token = await dev.participant("wh-ivy");
    const hook = await subscribe(token, { url: targetUrl("/ivy") });
    await dev.call("POST", `/api/webhooks/${hook.id}/test`, { token });
    receiver.setLatency(1_500);
    await deliverDue(dev, { timeoutMs: 300 });
    const [entry] = await webhookEntries();
    expect(entry?.status).toBe("pending");
    expect(entry?.lastError).toMatch(/timed out/);
    receiver.reset();
    clock.advance(WEBHOOK_BACKOFF.baseMs);
    await deliverDue();
    expect(typesOf(verified(hook.secret, "/ivy"))).toEqual(["webhook.test"]);
  });

  test("a receiver failing for 24 h (the relay's clock moved) → disabled with its reason, shown on GET; what was pending is dropped", async () => {
    const token = await dev.participant("wh-jo");
    const hook = await subscribe(token, { url: targetUrl("/jo") });
    receiver.respondWith(503, Number.POSITIVE_INFINITY);
    await dev.call("POST", `/api/webhooks/${hook.id}/test`, { token });
    const started = clock.now().getTime();
    let rounds = 0;
    while ((await listed(token))[0]?.status === "enabled") {
      rounds += 1;
      expect(rounds, "still enabled after 100 attempts").toBeLessThan(100);
      await deliverDue();
      // A second event joins while it fails (it is retried on its own, and dropped when it is disabled).
      if (rounds === 3) await dev.call("POST", `/api/webhooks/${hook.id}/test`, { token });
      const [next] = await dev.database.db
        .select({ at: min(outbox.nextAttemptAt) })
        .from(outbox)
        .where(and(eq(outbox.kind, "webhook"), eq(outbox.status, "pending")));
      if (next?.at) clock.set(new Date(next.at));
    }
    const [disabled] = await listed(token);
    expect(disabled).toMatchObject({ status: "disabled" });
    expect(disabled.disabled_reason).toMatch(
      /^deliveries failed for 24 h \(since 2026-07-01T06:00:00\.000Z\); last: the receiver answered 503$/,
    );
    const disabledAt = new Date(disabled.disabled_at).getTime();
    expect(disabledAt - started).toBeGreaterThanOrEqual(24 * 3_600_000);
    // Back-off up to an hour apart: some 30 attempts in a day, not thousands.
    expect(receiver.received.length).toBeGreaterThan(20);
    expect(receiver.received.length).toBeLessThan(80);
    expect((await webhookEntries()).map((e) => e.status).sort()).toEqual(["dropped", "failed"]);
    const attempts = receiver.received.length;
    // Nothing more goes to it, not even a test.
    expectProblem(await dev.call("POST", `/api/webhooks/${hook.id}/test`, { token }), 409, "disabled");
    await accept("wh-jo");
    clock.advance(86_400_000);
    await deliverDue();
    expect(receiver.received.length).toBe(attempts);
  });

  test("failures that stop short of 24 h and recover leave it enabled; the next run of failures counts from its own start", async () => {
    const token = await dev.participant("wh-kim");
    const hook = await subscribe(token, { url: targetUrl("/kim") });
    await dev.call("POST", `/api/webhooks/${hook.id}/test`, { token });
    receiver.respondWith(500, 1);
    await deliverDue();
    clock.advance(23 * 3_600_000);
    await deliverDue();
    expect(typesOf(verified(hook.secret, "/kim"))).toEqual(["webhook.test"]);
    await dev.call("POST", `/api/webhooks/${hook.id}/test`, { token });
    receiver.respondWith(500, 1);
    await deliverDue();
    clock.advance(2 * 3_600_000);
    await deliverDue();
    expect(typesOf(verified(hook.secret, "/kim"))).toEqual(["webhook.test", "webhook.test"]);
    expect((await listed(token))[0]).toMatchObject({ status: "enabled" });
  });

  test("410 Gone disables the subscription at once", async () => {
    const token = await dev.participant("wh-lea");
    const hook = await subscribe(token, { url: targetUrl("/lea") });
    receiver.respondWith(410);
    await dev.call("POST", `/api/webhooks/${hook.id}/test`, { token });
    await deliverDue();
    expect((await listed(token))[0]).toMatchObject({
      status: "disabled",
      disabled_reason: "the receiver answered 410 Gone",
    });
    expect((await webhookEntries())[0]).toMatchObject({ status: "failed" });
  });
});

describe("SSRF: outside CELINE_ENV=dev a target is https on public addresses only", () => {
  test.each([
    ["http (not https)", "http://hooks.example.org/x", /must be https/],
    ["loopback", "https://127.0.0.1/x", /127\.0\.0\.1 is a loopback address/],
    ["loopback, IPv6", "https://[::1]/x", /loopback/],
    ["private (RFC 1918)", "https://10.1.2.3/x", /private/],
    ["private 192.168", "https://192.168.0.10/x", /private/],
    ["private 172.16/12", "https://172.31.255.1/x", /private/],
    ["unique local (fc00::/7)", "https://[fd12:3456::1]/x", /private/],
    ["link-local", "https://169.254.10.10/x", /link-local/],
    ["link-local IPv6", "https://[fe80::1]/x", /link-local/],
    ["the cloud metadata address", "https://169.254.169.254/latest/meta-data", /cloud metadata/],
    ["CGNAT", "https://100.64.0.1/x", /CGNAT/],
    ["unspecified", "https://0.0.0.0/x", /unspecified/],
    ["a v4-mapped private address", "https://[::ffff:192.168.1.1]/x", /private/],
    ["an integer spelling of loopback", "https://2130706433/x", /loopback/],
    ["localhost (the system resolver)", "https://localhost/x", /localhost resolves to .*loopback/],
  ])("%s is refused at creation (422 naming why)", async (_, url, why) => {
    const res = await hardened.call("POST", "/api/webhooks", {
      token: await hardened.participant("wh-mia"),
      body: { url },
    });
    expectFieldError(res, "url");
    expect(res.json.detail, res.text).toMatch(why);
  });

  test("a host resolving to any private address is refused; one that does not resolve is refused", async () => {
    const token = await hardened.participant("wh-ned");
    dns.set("mixed.example.test", ["93.184.216.34", "10.0.0.7"]);
    const mixed = await hardened.call("POST", "/api/webhooks", {
      token,
      body: { url: "https://mixed.example.test/hook" },
    });
    expectFieldError(mixed, "url");
    expect(mixed.json.detail).toContain("mixed.example.test resolves to 10.0.0.7, a private address");
    const unknown = await hardened.call("POST", "/api/webhooks", {
      token,
      body: { url: "https://no-such-host.invalid/hook" },
    });
    expectFieldError(unknown, "url");
    expect(unknown.json.detail).toMatch(/cannot resolve/);
  });

  test("refused at delivery when DNS has changed since: no POST, the entry failed, the subscription disabled with why", async () => {
    const token = await hardened.participant("wh-ona");
    dns.set("hooks.example.test", ["93.184.216.34", "2606:2800:220:1::1"]);
    const hook = await subscribe(token, { url: "https://hooks.example.test/flex" }, hardened);
    expect(hook.status).toBe("enabled");
    dns.set("hooks.example.test", ["127.0.0.1"]);
    const queued = await hardened.call("POST", `/api/webhooks/${hook.id}/test`, { token });
    expect(queued.status, queued.text).toBe(202);
    hardenedPosts.length = 0;

    await deliverDue(hardened);
    expect(hardenedPosts).toHaveLength(0);
    const [entry] = await webhookEntries(hardened);
    expect(entry).toMatchObject({
      status: "failed",
      attempts: 1,
      lastError: "target refused: hooks.example.test resolves to 127.0.0.1, a loopback address",
    });
    expect((await listed(token, hardened))[0]).toMatchObject({
      status: "disabled",
      disabled_reason: "target refused: hooks.example.test resolves to 127.0.0.1, a loopback address",
    });
  });

  test("allowed at delivery: the POST is pinned to the addresses just checked (the name is not resolved again)", async () => {
    const token = await hardened.participant("wh-oli");
    dns.set("public.example.test", ["93.184.216.34"]);
    const hook = await subscribe(token, { url: "https://public.example.test/flex" }, hardened);
    dns.set("public.example.test", ["93.184.216.35", "2606:2800:220:1::1"]);
    await hardened.call("POST", `/api/webhooks/${hook.id}/test`, { token });
    hardenedPosts.length = 0;

    await deliverDue(hardened);
    expect(hardenedPosts.map((p) => [p.url, p.addresses])).toEqual([
      ["https://public.example.test/flex", ["93.184.216.35", "2606:2800:220:1::1"]],
    ]);
    expect((await webhookEntries(hardened))[0]).toMatchObject({ status: "delivered" });
    const signed = hardenedPosts[0];
    expect(new Webhook(hook.secret).verify(signed?.body ?? "", signed?.headers ?? {})).toMatchObject({
      type: "webhook.test",
    });
  });

  test("CELINE_ENV=dev allows http and loopback (the tests' receivers)", async () => {
    const hook = await subscribe(await dev.participant("wh-pam"), { url: "http://127.0.0.1:9/x" });
    expect(hook.status).toBe("enabled");
  });
});

describe("errors", () => {
  test("at most 5 per member: the sixth is 409 (REST and tRPC); deleting one makes room", async () => {
    const token = await dev.participant("wh-quinn");
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await subscribe(token, { url: targetUrl(`/q${i}`) })).id);
    expectProblem(
      await dev.call("POST", "/api/webhooks", { token, body: { url: targetUrl("/q5") } }),
      409,
      "at most 5",
    );
    const trpc = await dev.call("POST", "/trpc/webhooks.create", { token, body: { url: targetUrl("/q5") } });
    expect(trpc.status, trpc.text).toBe(409);
    expect(trpc.json.error.data.code).toBe("CONFLICT");
    await dev.call("DELETE", `/api/webhooks/${ids[0]}`, { token });
    await subscribe(token, { url: targetUrl("/q5") });
    // Another member's count is their own.
    await subscribe(await dev.participant("wh-quinn-2"), { url: targetUrl("/q") });
  });

  test("concurrent creates do not pass the limit", async () => {
    const token = await dev.participant("wh-race");
    const answers = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        dev.call("POST", "/api/webhooks", { token, body: { url: targetUrl(`/race${i}`) } }),
      ),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([201, 201, 201, 201, 201, 409, 409, 409]);
  });

  test("a service: at most 5 per community, each community its own", async () => {
    const service = await dev.service([SCOPE.admin], "svc-limits");
    for (let i = 0; i < 5; i += 1)
      await subscribe(service, { url: targetUrl(`/s${i}`), community_id: "rec-one" });
    expectProblem(
      await dev.call("POST", "/api/webhooks", {
        token: service,
        body: { url: targetUrl("/s5"), community_id: "rec-one" },
      }),
      409,
      "per service for community rec-one",
    );
    await subscribe(service, { url: targetUrl("/s5"), community_id: "rec-two" });
  });

  test.each([
    ["no url", {}, "url"],
    ["not a URL", { url: "not a url" }, "url"],
    ["ftp", { url: "ftp://example.org/x" }, "url"],
    ["credentials in the URL", { url: "https://user:pass@example.org/x" }, "url"],
    ["no events", { url: "https://example.org/x", events: [] }, "events"],
    ["an unknown event", { url: "https://example.org/x", events: ["commitment.eaten"] }, "events.0"],
    [
      "an event twice",
      { url: "https://example.org/x", events: ["commitment.created", "commitment.created"] },
      "events",
    ],
  ])("%s → 422 naming the field", async (_, body, field) => {
    const res = await dev.call("POST", "/api/webhooks", { token: await dev.participant("wh-rae"), body });
    expectFieldError(res, field);
  });

  test("a service must name the community (422); a participant may not name one (403)", async () => {
    expectFieldError(
      await dev.call("POST", "/api/webhooks", { token: operator, body: { url: targetUrl() } }),
      "community_id",
    );
    expectProblem(
      await dev.call("POST", "/api/webhooks", {
        token: await dev.participant("wh-sam"),
        body: { url: targetUrl(), community_id: "rec-sam" },
      }),
      403,
      "only a service with flexibility.admin subscribes to a community",
    );
  });

  test("an id that is not a UUID → 422", async () => {
    const token = await dev.participant("wh-tess");
    expectFieldError(await dev.call("DELETE", "/api/webhooks/not-a-uuid", { token }), "id");
    expectFieldError(await dev.call("POST", "/api/webhooks/not-a-uuid/test", { token }), "id");
  });
});

describe("security", () => {
  test("another member's webhook → 404 on delete and test (REST and tRPC), absent from their list, and it stays", async () => {
    const owner = await dev.participant("wh-uma");
    const hook = await subscribe(owner, { url: targetUrl("/uma") });
    const stranger = await dev.participant("wh-victor");
    expectProblem(await dev.call("DELETE", `/api/webhooks/${hook.id}`, { token: stranger }), 404);
    expectProblem(await dev.call("POST", `/api/webhooks/${hook.id}/test`, { token: stranger }), 404);
    const trpc = await dev.call("POST", "/trpc/webhooks.delete", { token: stranger, body: { id: hook.id } });
    expect(trpc.status, trpc.text).toBe(404);
    expect(await listed(stranger)).toEqual([]);
    expect(await webhookEntries()).toHaveLength(0);
    // A service, even an admin one, does not manage a member's subscriptions.
    expectProblem(await dev.call("DELETE", `/api/webhooks/${hook.id}`, { token: operator }), 404);
    expect((await listed(owner)).map((w) => w.id)).toEqual([hook.id]);
  });

  test("another member's commitments never reach my subscription", async () => {
    const hook = await subscribe(await dev.participant("wh-wes"), { url: targetUrl("/wes") });
    await accept("wh-xena");
    await deliverDue();
    expect(verified(hook.secret, "/wes")).toEqual([]);
  });

  test("a service without flexibility.admin may not subscribe to a community (403, audited)", async () => {
    const reader = await dev.service([SCOPE.read, SCOPE.write], "svc-reader");
    const before = dev.audits().length;
    expectProblem(
      await dev.call("POST", "/api/webhooks", {
        token: reader,
        body: { url: targetUrl(), community_id: "rec-x" },
      }),
      403,
      "missing scope flexibility.admin",
    );
    expect(dev.audits().slice(before)).toEqual([
      expect.objectContaining({ event: "denied", action: "webhook" }),
    ]);
  });
});
