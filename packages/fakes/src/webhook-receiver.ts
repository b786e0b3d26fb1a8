import { type ServedApp, serveApp } from "./serve-app.ts";

// An integrator's webhook receiver on loopback: records every delivery exactly as it arrived (raw
// body and headers, for signature checks) and answers what the test says — 200 by default, a
// scripted status for the next deliveries, late, or never (a timeout).

/** One delivery as the receiver saw it; `status` is what it answered (0 while unanswered). */
export type ReceivedWebhook = {
  path: string;
  /** Lower-cased headers. */
  headers: Record<string, string>;
  /** The body exactly as sent: signatures are over these bytes. */
  body: string;
  status: number;
  at: Date;
};

export type WebhookReceiver = ServedApp & {
  received: ReceivedWebhook[];
  /** The bodies answered 2xx, parsed, in arrival order. */
  accepted(): unknown[];
  /** Answer `status` to the next `times` deliveries (`Infinity`: until `reset()`); then 200 again. */
  respondWith(status: number, times?: number): void;
  /** Answer every delivery `ms` late (a deadline shorter than that is a timeout). */
  setLatency(ms: number): void;
  /** Back to answering 200 at once; recorded deliveries stay. */
  reset(): void;
  clear(): void;
  /** Resolves once `count` deliveries have been answered 2xx (rejects after `timeoutMs`). */
  waitForAccepted(count: number, timeoutMs?: number): Promise<unknown[]>;
};

export function startWebhookReceiver(opts: { port?: number } = {}): WebhookReceiver {
  const received: ReceivedWebhook[] = [];
  let scripted: { status: number; remaining: number }[] = [];
  let latencyMs = 0;
  const ok = (r: ReceivedWebhook) => r.status >= 200 && r.status < 300;
  const accepted = () => received.filter(ok).map((r) => JSON.parse(r.body) as unknown);

  const served = serveApp(
    async (request) => {
      const record: ReceivedWebhook = {
        path: new URL(request.url).pathname,
        headers: Object.fromEntries([...request.headers].map(([k, v]) => [k.toLowerCase(), v])),
        body: await request.text(),
        status: 0,
        at: new Date(),
      };
      received.push(record);
      const rule = scripted[0];
      let status = 200;
      if (rule) {
        status = rule.status;
        rule.remaining -= 1;
        if (rule.remaining <= 0) scripted = scripted.slice(1);
      }
      if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
      record.status = status;
      return new Response(status >= 300 ? `answered ${status}` : "ok", { status });
    },
    { port: opts.port },
  );

  return {
    ...served,
    received,
    accepted,
    respondWith(status, times = 1) {
      scripted.push({ status, remaining: times });
    },
    setLatency(ms) {
      latencyMs = ms;
    },
    reset() {
      scripted = [];
      latencyMs = 0;
    },
    clear() {
      received.length = 0;
    },
    async waitForAccepted(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.filter(ok).length < count) {
        if (Date.now() > deadline) {
          throw new Error(
            `webhook receiver: ${received.filter(ok).length} of ${count} deliveries accepted after ${timeoutMs} ms (statuses: ${received.map((r) => r.status).join(", ") || "none"})`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return accepted();
    },
  };
}
