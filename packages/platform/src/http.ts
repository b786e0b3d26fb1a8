import { backoffDelay, type Logger, type Metrics, messageOf, UpstreamError } from "@celine/core";
import type { TokenProvider } from "./token-provider.ts";

// One outbound HTTP exchange with a platform service: a deadline covering the whole exchange
// (headers and body), one metric per attempt, retries with backoff only when the caller says the
// call is safe to repeat, and errors that name the service and what went wrong. Portable: fetch,
// AbortSignal.timeout and timers only.

export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

export type Outcome = "ok" | "client_error" | "server_error" | "timeout" | "network";

export const DEFAULT_TIMEOUT_MS = 5_000;
export const DEFAULT_RETRIES = 2;
/** First backoff step; doubles per retry, with full jitter, capped at MAX_BACKOFF_MS. */
export const DEFAULT_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 2_000;

export type HttpTarget = {
  upstream: string;
  baseUrl: string;
  fetch: FetchLike;
  metrics: Metrics;
  log: Logger;
  timeoutMs: number;
};

export type HttpRequest = {
  method: "GET" | "POST";
  /** Path below the base URL, already percent-encoded where it carries data. */
  path: string;
  query?: Record<string, string | undefined>;
  headers?: Record<string, string>;
  /** Serialised as JSON. */
  json?: unknown;
  /** Sent as application/x-www-form-urlencoded. */
  form?: Record<string, string>;
  /** Extra attempts after a 5xx, timeout or network error (0 for calls not safe to repeat). */
  retries?: number;
  backoffMs?: number;
};

/** What every client of a platform service is built from (PLATFORM §7). */
export type ServiceClientOptions = {
  baseUrl: string;
  tokens: TokenProvider;
  /** Scope of our service token (`DT_CLIENT_SCOPE`, `NUDGING_SCOPE`, `REC_REGISTRY_SCOPE`). */
  scope?: string;
  timeoutMs?: number;
  metrics: Metrics;
  log: Logger;
  fetch?: FetchLike;
};

/** A client whose calls are reads, safe to repeat after a 5xx, timeout or network error. */
export type RetryingClientOptions = ServiceClientOptions & {
  /** Extra attempts (default DEFAULT_RETRIES). */
  retries?: number;
  /** First back-off step in ms (doubles per retry, full jitter). */
  backoffMs?: number;
};

/** A client's target from its options: the runtime's fetch and DEFAULT_TIMEOUT_MS unless given. */
export function targetOf(
  upstream: string,
  opts: Pick<ServiceClientOptions, "baseUrl" | "fetch" | "metrics" | "log" | "timeoutMs">,
): HttpTarget {
  return {
    upstream,
    baseUrl: opts.baseUrl,
    fetch: opts.fetch ?? fetch,
    metrics: opts.metrics,
    log: opts.log,
    timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  };
}

/** An answer that arrived (any status): the caller decides what a status means. */
export type HttpAnswer = { status: number; body: unknown; text: string; describe: string };

/**
 * Perform the exchange. Resolves with the answer for every status that arrived (after retries
 * for 5xx); throws UpstreamError only for timeouts and network failures that outlived the retries.
 */
export async function send(target: HttpTarget, req: HttpRequest): Promise<HttpAnswer> {
  const retries = req.retries ?? 0;
  const backoffMs = req.backoffMs ?? DEFAULT_BACKOFF_MS;
  for (let attempt = 0; ; attempt += 1) {
    const last = attempt >= retries;
    try {
      const answer = await attemptOnce(target, req);
      if (answer.status < 500 || last) return answer;
      target.log.warn("upstream answered a server error; retrying", {
        upstream: target.upstream,
        call: answer.describe,
        status: answer.status,
        attempt: attempt + 1,
      });
    } catch (error) {
      if (last || !(error instanceof UpstreamError)) throw error;
      target.log.warn("upstream call failed; retrying", {
        upstream: target.upstream,
        error: error.message,
        attempt: attempt + 1,
      });
    }
    // Full jitter: spreads the retries of many callers of one struggling service apart.
    await sleep(backoffDelay(attempt + 1, { baseMs: backoffMs, maxMs: MAX_BACKOFF_MS, jitter: "full" }));
  }
}

/**
 * `send` with our service token (PLATFORM §2) as the bearer. A 401 means the token may have been
 * revoked or rotated early: a new one is fetched and the call made again, once.
 */
export async function sendAsService(
  target: HttpTarget,
  req: HttpRequest,
  tokens: TokenProvider,
  scope: string | undefined,
): Promise<HttpAnswer> {
  const exchange = async () =>
    send(target, {
      ...req,
      headers: { ...req.headers, authorization: `Bearer ${await tokens.token(scope)}` },
    });
  const answer = await exchange();
  if (answer.status !== 401 || !tokens.invalidate) return answer;
  tokens.invalidate(scope);
  return exchange();
}

async function attemptOnce(target: HttpTarget, req: HttpRequest): Promise<HttpAnswer> {
  const url = buildUrl(target.baseUrl, req.path, req.query);
  const describe = `${req.method} ${url.pathname}`;
  const headers: Record<string, string> = { accept: "application/json", ...req.headers };
  let body: string | undefined;
  if (req.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(req.json);
  } else if (req.form !== undefined) {
    headers["content-type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams(req.form).toString();
  }

  const signal = AbortSignal.timeout(target.timeoutMs);
  const finish = timeUpstreamCall(target.metrics, target.upstream);
  try {
    const res = await target.fetch(url, { method: req.method, headers, body, signal });
    // The body is read under the same deadline: a server that stalls mid-body is a timeout too.
    const text = await res.text();
    finish(outcomeOfStatus(res.status));
    return { status: res.status, body: parseJson(text), text, describe };
  } catch (error) {
    if (signal.aborted) {
      finish("timeout");
      throw new UpstreamError(target.upstream, `${describe} timed out after ${target.timeoutMs} ms`);
    }
    finish("network");
    throw new UpstreamError(target.upstream, `${describe} failed: ${describeNetworkError(error, url)}`);
  }
}

/**
 * Starts timing one call to `upstream` (an HTTP exchange, a webhook POST, an MQTT publish); the
 * function returned records its outcome (`upstream_requests_total`) and duration in seconds
 * (`upstream_request_seconds`). Call it once, when the call has ended either way.
 */
export function timeUpstreamCall(metrics: Metrics, upstream: string): (outcome: Outcome) => void {
  const started = performance.now();
  return (outcome) => {
    metrics.inc("upstream_requests_total", { upstream, outcome });
    metrics.observe("upstream_request_seconds", (performance.now() - started) / 1000, { upstream });
  };
}

/** The outcome of a call whose answer arrived, by its HTTP status. */
export function outcomeOfStatus(status: number): Outcome {
  return status >= 500 ? "server_error" : status >= 400 ? "client_error" : "ok";
}

function buildUrl(baseUrl: string, path: string, query: Record<string, string | undefined> = {}): URL {
  const url = new URL(`${baseUrl.replace(/\/+$/, "")}${path}`);
  for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, value);
  return url;
}

function parseJson(text: string): unknown {
  if (text === "") return null;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** "connection refused to 127.0.0.1:8002" rather than a runtime's generic fetch message. */
function describeNetworkError(error: unknown, url: URL): string {
  const code = typeof error === "object" && error !== null && "code" in error ? String(error.code) : "";
  const message = messageOf(error);
  if (/ECONNREFUSED|ConnectionRefused/i.test(code) || /refused/i.test(message)) {
    return `connection refused by ${url.host}`;
  }
  if (/ENOTFOUND|EAI_AGAIN|DNS/i.test(code)) return `cannot resolve ${url.hostname}`;
  if (/ECONNRESET|ConnectionClosed|socket/i.test(`${code} ${message}`)) {
    return `connection to ${url.host} closed (${code || message})`;
  }
  return code ? `${code}: ${message}` : message;
}

/** The service's own explanation: FastAPI `detail` (string or list), OAuth2 `error_description`, or text. */
export function detailOf(answer: HttpAnswer): string {
  const body = answer.body;
  if (typeof body === "object" && body !== null) {
    const record = body as Record<string, unknown>;
    if (typeof record.detail === "string") return record.detail;
    if (record.detail !== undefined) return truncate(JSON.stringify(record.detail));
    if (typeof record.error === "string") {
      return typeof record.error_description === "string"
        ? `${record.error}: ${record.error_description}`
        : record.error;
    }
  }
  return truncate(answer.text.trim()) || "(empty body)";
}

/** The UpstreamError for an answer the caller cannot use. */
export function statusError(upstream: string, answer: HttpAnswer): UpstreamError {
  return new UpstreamError(
    upstream,
    `${answer.describe} answered ${answer.status}: ${detailOf(answer)}`,
    answer.status,
  );
}

function truncate(text: string, max = 300): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
