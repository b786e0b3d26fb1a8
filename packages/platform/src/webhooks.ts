import { type Logger, type Metrics, messageOf, UpstreamError, type WebhookSender } from "@celine/core";
import type { FetchLike } from "./http.ts";

// Integrators' webhook receivers: resolving a target's host (core decides whether its addresses are
// allowed) and one POST of an already signed body. No retries here (the outbox relay retries with its
// own back-off), no redirects followed (a 3xx could point anywhere, our own network included), and
// the receiver's answer body is never read beyond what closing the response takes.

/** Every address of a host (A and AAAA), as node:dns `lookup(host, { all: true })` answers them. */
export type LookupAll = (hostname: string) => Promise<{ address: string }[]>;

export type WebhookSenderOptions = {
  metrics: Metrics;
  log: Logger;
  fetch?: FetchLike;
  /** Name resolution (default: the system resolver through node:dns, loaded on first use). */
  lookup?: LookupAll;
};

const UPSTREAM = "webhook";

export function createWebhookSender(opts: WebhookSenderOptions): WebhookSender {
  const doFetch = opts.fetch ?? fetch;
  const lookup = opts.lookup ?? systemLookup;

  return {
    async resolve(hostname) {
      try {
        return (await lookup(hostname)).map((a) => a.address);
      } catch (error) {
        throw new UpstreamError(UPSTREAM, `cannot resolve ${hostname}: ${messageOf(error)}`);
      }
    },

    async post({ url, headers, body, timeoutMs }) {
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      const started = performance.now();
      const finish = (outcome: string) => {
        opts.metrics.inc("upstream_requests_total", { upstream: UPSTREAM, outcome });
        opts.metrics.observe("upstream_request_seconds", (performance.now() - started) / 1000, {
          upstream: UPSTREAM,
        });
      };
      try {
        const res = await doFetch(url, {
          method: "POST",
          headers,
          body,
          redirect: "manual",
          signal: controller.signal,
        });
        // The status is the answer; the body is not ours to read (it may be large, or never end).
        await res.body?.cancel().catch(() => {});
        finish(res.status >= 500 ? "server_error" : res.status >= 400 ? "client_error" : "ok");
        return { status: res.status };
      } catch (error) {
        const host = safeHost(url);
        if (timedOut) {
          finish("timeout");
          throw new UpstreamError(UPSTREAM, `POST to ${host} timed out after ${timeoutMs} ms`);
        }
        finish("network");
        throw new UpstreamError(UPSTREAM, `POST to ${host} failed: ${messageOf(error)}`);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** node:dns, imported when first needed: runtimes without it can still load this module. */
async function systemLookup(hostname: string): Promise<{ address: string }[]> {
  const { lookup } = await import("node:dns/promises");
  return lookup(hostname, { all: true, verbatim: true });
}

/** The host of a target, for messages: its path may carry the receiver's own secret. */
function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "the target";
  }
}
