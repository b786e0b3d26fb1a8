// Client of an OPA sidecar's Data API (POST /v1/data/{path}). Uses only fetch and AbortSignal.timeout,
// so it runs on Bun, Node and Cloudflare Workers. Every failure denies with a reason (and `failed`);
// it never throws.
import type { Decider } from "./decider.ts";
import { messageOf } from "./errors.ts";
import type { Decision } from "./policy.ts";

export type OpaDeciderOptions = {
  /** Base URL of the OPA server, e.g. "http://127.0.0.1:8181". */
  url: string;
  /** Package path below /v1/data, e.g. "celine/flexibility/access". */
  path: string;
  /** Milliseconds before the request is abandoned; default 500. */
  timeoutMs?: number;
  fetch?: typeof fetch;
};

export const DEFAULT_OPA_TIMEOUT_MS = 500;

/** No decision could be made: OPA unreachable, slow, failing, or answering something else than a decision. */
function fail(reason: string): Decision {
  return { allow: false, reason, failed: true };
}

function readDecision(body: unknown): Decision {
  if (typeof body !== "object" || body === null || !("result" in body)) {
    return fail("opa: result is undefined");
  }
  const result = (body as { result: unknown }).result;
  if (typeof result !== "object" || result === null) return fail("opa: result is not an object");
  const { allow, reason } = result as { allow?: unknown; reason?: unknown };
  // Only the boolean true grants; a string "true" or 1 is a policy bug and must not open the door.
  if (allow !== true && allow !== false && allow !== undefined) return fail("opa: allow is not a boolean");
  const granted = allow === true;
  if (typeof reason === "string") return { allow: granted, reason };
  return {
    allow: granted,
    reason: granted ? "allowed" : allow === undefined ? "allow is undefined" : "denied",
  };
}

export function createOpaDecider(opts: OpaDeciderOptions): Decider {
  const doFetch = opts.fetch ?? fetch;
  const endpoint = `${opts.url.replace(/\/+$/, "")}/v1/data/${opts.path.replace(/^\/+|\/+$/g, "")}`;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_OPA_TIMEOUT_MS;
  return {
    async decide(input: unknown): Promise<Decision> {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const res = await doFetch(endpoint, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ input }),
          signal,
        });
        if (!res.ok) return fail(`opa: http ${res.status}`);
        let body: unknown;
        try {
          body = JSON.parse(await res.text());
        } catch {
          return fail("opa: malformed JSON response");
        }
        return readDecision(body);
      } catch (e) {
        if (signal.aborted) return fail(`opa: timed out after ${timeoutMs} ms`);
        return fail(`opa: request failed: ${messageOf(e)}`);
      }
    },
  };
}
