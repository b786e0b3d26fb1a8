import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createLogger, createMetrics, UpstreamError } from "@celine/core";
import { serveApp, startWebhookReceiver, type WebhookReceiver } from "@celine/fakes";
import { createWebhookSender } from "../src/index.ts";

// The webhook sender against a real receiver on loopback: one POST of the body as given, the status
// as answered (redirects not followed), a deadline, and name resolution through the lookup handed in.

let receiver: WebhookReceiver;
const metrics = createMetrics();
const log = createLogger({ level: "silent" });
const sender = createWebhookSender({ metrics, log });

beforeAll(() => {
  receiver = startWebhookReceiver();
});
afterAll(async () => {
  await receiver.close();
});
beforeEach(() => {
  receiver.reset();
  receiver.clear();
});

const request = (path = "/hook", timeoutMs = 2_000) => ({
  url: `${receiver.url}${path}`,
  headers: { "content-type": "application/json", "webhook-id": "msg_1" },
  body: '{"type":"webhook.test"}',
  timeoutMs,
});

describe("post", () => {
  test("sends the body and headers as given and answers the status", async () => {
    expect(await sender.post(request())).toEqual({ status: 200 });
    expect(receiver.received[0]).toMatchObject({
      path: "/hook",
      body: '{"type":"webhook.test"}',
      headers: expect.objectContaining({ "webhook-id": "msg_1", "content-type": "application/json" }),
    });
    receiver.respondWith(503);
    expect(await sender.post(request())).toEqual({ status: 503 });
  });

  test("a redirect is answered, never followed (it could point inside our network)", async () => {
    const redirecting = serveApp(
      () => new Response(null, { status: 307, headers: { location: receiver.url } }),
    );
    try {
      expect(await sender.post({ ...request(), url: redirecting.url })).toEqual({ status: 307 });
      expect(receiver.received).toHaveLength(0);
    } finally {
      await redirecting.close();
    }
  });

  test("too slow → UpstreamError naming the host (not the path, which may hold the receiver's own secret)", async () => {
    receiver.setLatency(500);
    const error = await sender.post(request("/secret-token-in-path", 100)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as Error).message).toBe(
      `webhook: POST to ${new URL(receiver.url).host} timed out after 100 ms`,
    );
  });

  test("nobody listening → UpstreamError", async () => {
    const gone = serveApp(() => new Response("ok"));
    const url = gone.url;
    await gone.close();
    await expect(sender.post({ ...request(), url })).rejects.toBeInstanceOf(UpstreamError);
  });
});

describe("post to pinned addresses (the ones core checked)", () => {
  test("the connection goes to the given address, the name is never resolved, the Host stays the URL's", async () => {
    const port = new URL(receiver.url).port;
    const pinned = createWebhookSender({
      metrics,
      log,
      lookup: () => Promise.reject(new Error("must not resolve")),
    });
    const answer = await pinned.post({
      ...request(),
      url: `http://hooks.example.test:${port}/pinned`,
      addresses: ["127.0.0.1"],
    });
    expect(answer).toEqual({ status: 200 });
    expect(receiver.received[0]).toMatchObject({
      path: "/pinned",
      body: '{"type":"webhook.test"}',
      headers: expect.objectContaining({ host: `hooks.example.test:${port}`, "webhook-id": "msg_1" }),
    });
  });

  test("too slow → UpstreamError; a status is answered as is (no redirect followed)", async () => {
    const port = new URL(receiver.url).port;
    const url = `http://hooks.example.test:${port}/slow`;
    receiver.setLatency(500);
    await expect(
      sender.post({ ...request(), url, timeoutMs: 100, addresses: ["127.0.0.1"] }),
    ).rejects.toThrow(/timed out after 100 ms/);
    receiver.reset();
    receiver.respondWith(302);
    expect(await sender.post({ ...request(), url, addresses: ["127.0.0.1"] })).toEqual({ status: 302 });
  });

  const openssl = Bun.which("openssl");
  test.skipIf(!openssl)("https: TLS is verified against the URL's host, not the pinned address", async () => {
    const dir = `/tmp/webhook-tls-${crypto.randomUUID().slice(0, 8)}`;
    const made = Bun.spawnSync([
      openssl ?? "openssl",
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=hooks.example.test",
      "-addext",
      "subjectAltName=DNS:hooks.example.test",
      "-keyout",
      `${dir}-key.pem`,
      "-out",
      `${dir}-cert.pem`,
    ]);
    expect(made.exitCode, made.stderr.toString()).toBe(0);
    const cert = await Bun.file(`${dir}-cert.pem`).text();
    const tls = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      tls: { cert, key: await Bun.file(`${dir}-key.pem`).text() },
      fetch: (req) =>
        new Response(null, { status: req.headers.get("host")?.startsWith("hooks.example.test") ? 204 : 400 }),
    });
    try {
      const trusting = createWebhookSender({ metrics, log, ca: cert });
      const at = (host: string) => ({
        ...request(),
        url: `https://${host}:${tls.port}/hook`,
        addresses: ["127.0.0.1"],
      });
      expect(await trusting.post(at("hooks.example.test"))).toEqual({ status: 204 });
      // The same server under another name: its certificate does not match, nothing is sent.
      await expect(trusting.post(at("other.example.test"))).rejects.toBeInstanceOf(UpstreamError);
    } finally {
      await tls.stop(true);
    }
  });
});

describe("resolve", () => {
  test("every address the lookup answers", async () => {
    const resolving = createWebhookSender({
      metrics,
      log,
      lookup: async () => [{ address: "93.184.216.34" }, { address: "2606:2800:220:1::1" }],
    });
    expect(await resolving.resolve("hooks.example.org")).toEqual(["93.184.216.34", "2606:2800:220:1::1"]);
  });

  test("the system resolver by default (localhost is this machine)", async () => {
    const addresses = await sender.resolve("localhost");
    expect(addresses.length).toBeGreaterThan(0);
    for (const address of addresses) expect(["127.0.0.1", "::1"]).toContain(address);
  });

  test("a name that does not resolve → UpstreamError", async () => {
    await expect(sender.resolve("no-such-host.invalid")).rejects.toThrow(
      /webhook: cannot resolve no-such-host\.invalid/,
    );
  });
});
