import type { LookupFunction } from "node:net";
import { type Logger, type Metrics, messageOf, UpstreamError, type WebhookSender } from "@celine/core";
import { type FetchLike, outcomeOfStatus, timeUpstreamCall } from "./http.ts";

// Integrators' webhook receivers: resolving a target's host (core decides whether its addresses are
// allowed) and one POST of an already signed body, to the addresses core allowed when it names them. No retries here (the outbox relay retries with its
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
  /** An extra certificate authority (PEM) to trust for pinned https deliveries: tests only. */
  ca?: string;
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

    async post({ url, headers, body, timeoutMs, addresses }) {
      const signal = AbortSignal.timeout(timeoutMs);
      const finish = timeUpstreamCall(opts.metrics, UPSTREAM);
      try {
        let status: number;
        if (addresses && addresses.length > 0) {
          status = await postPinned(url, headers, body, addresses, signal, opts.ca);
        } else {
          const res = await doFetch(url, {
            method: "POST",
            headers,
            body,
            redirect: "manual",
            signal,
          });
          // The status is the answer; the body is not ours to read (it may be large, or never end).
          await res.body?.cancel().catch(() => {});
          status = res.status;
        }
        finish(outcomeOfStatus(status));
        return { status };
      } catch (error) {
        const host = safeHost(url);
        if (signal.aborted) {
          finish("timeout");
          throw new UpstreamError(UPSTREAM, `POST to ${host} timed out after ${timeoutMs} ms`);
        }
        finish("network");
        throw new UpstreamError(UPSTREAM, `POST to ${host} failed: ${messageOf(error)}`);
      }
    },
  };
}

/**
 * One POST over node:http(s) whose connection goes to `addresses` only: the name is not resolved
 * again (its lookup answers the pinned addresses), while the Host header, SNI and certificate check
 * keep the URL's host. Imported when first needed, like node:dns.
 */
async function postPinned(
  url: string,
  headers: Record<string, string>,
  body: string,
  addresses: string[],
  signal: AbortSignal,
  ca: string | undefined,
): Promise<number> {
  const target = new URL(url);
  const { request } = target.protocol === "https:" ? await import("node:https") : await import("node:http");
  const pinned = addresses.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  const lookup: LookupFunction = (_hostname, options, callback) => {
    const [first] = pinned;
    if (options.all) callback(null, pinned);
    else if (first) callback(null, first.address, first.family);
    else callback(new Error("no address to connect to"), "", 4);
  };
  return new Promise<number>((resolve, reject) => {
    const req = request(
      target,
      {
        method: "POST",
        headers: { ...headers, "content-length": String(new TextEncoder().encode(body).byteLength) },
        lookup,
        signal,
        ...(ca ? { ca } : {}),
      },
      (res) => {
        // The status is the answer; the body is not ours to read (it may be large, or never end).
        resolve(res.statusCode ?? 0);
        res.destroy();
      },
    );
    req.on("error", reject);
    req.end(body);
  });
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
