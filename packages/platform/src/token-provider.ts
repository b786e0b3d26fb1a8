import { createLogger, createMetrics, type Logger, type Metrics, UpstreamError } from "@celine/core";
import type { FetchLike } from "./http.ts";
import { DEFAULT_RETRIES, isObject, send, statusError, targetOf } from "./http.ts";

// OAuth2 client credentials for our own outbound calls (PLATFORM §2): discovery once, one token
// per scope cached until 30 s before it expires, concurrent callers sharing one request.

/** Where service tokens come from. `invalidate` drops a cached token the upstream refused (401). */
export type TokenProvider = {
  token(scope?: string): Promise<string>;
  invalidate?(scope?: string): void;
};

export type TokenProviderOptions = {
  /** The issuer (`CELINE_OIDC_BASE_URL`); discovery is `{issuerUrl}/.well-known/openid-configuration`. */
  issuerUrl: string;
  clientId: string;
  clientSecret: string;
  fetch?: FetchLike;
  timeoutMs?: number;
  /** Extra attempts on 5xx, timeouts and network errors (discovery and token requests are safe to repeat). */
  retries?: number;
  /** Milliseconds since the epoch; injectable so tests can move past expiry. */
  now?: () => number;
  metrics?: Metrics;
  log?: Logger;
};

/** Renew this long before `expires_in` runs out (PLATFORM §2). */
const RENEW_BEFORE_MS = 30_000;

type Cached = { token: string; renewAt: number };

export function createTokenProvider(opts: TokenProviderOptions): Required<TokenProvider> {
  const now = opts.now ?? Date.now;
  const issuerUrl = opts.issuerUrl.replace(/\/+$/, "");
  const metrics = opts.metrics ?? createMetrics();
  const log = opts.log ?? createLogger({ level: "silent" });
  const target = (baseUrl: string) =>
    targetOf("oidc", { baseUrl, fetch: opts.fetch, metrics, log, timeoutMs: opts.timeoutMs });
  const retries = opts.retries ?? DEFAULT_RETRIES;

  let discovery: Promise<string> | undefined;
  const cache = new Map<string, Cached>();
  const inflight = new Map<string, Promise<string>>();

  function tokenEndpoint(): Promise<string> {
    discovery ??= discover().catch((error: unknown) => {
      // A failed discovery is not cached: the next caller tries again.
      discovery = undefined;
      throw error;
    });
    return discovery;
  }

  async function discover(): Promise<string> {
    const answer = await send(target(issuerUrl), {
      method: "GET",
      path: "/.well-known/openid-configuration",
      retries,
    });
    if (answer.status !== 200) throw statusError("oidc", answer);
    const endpoint = isObject(answer.body) ? answer.body.token_endpoint : undefined;
    if (typeof endpoint !== "string" || endpoint === "") {
      throw new UpstreamError("oidc", `discovery at ${issuerUrl} names no token_endpoint`);
    }
    return endpoint;
  }

  async function request(scope: string): Promise<string> {
    const endpoint = await tokenEndpoint();
    const form: Record<string, string> = {
      grant_type: "client_credentials",
      client_id: opts.clientId,
      client_secret: opts.clientSecret,
    };
    if (scope !== "") form.scope = scope;
    const requestedAt = now();
    const answer = await send(target(endpoint), { method: "POST", path: "", form, retries });
    if (answer.status !== 200) throw statusError("oidc", answer);
    const body = isObject(answer.body) ? answer.body : {};
    const token = body.access_token;
    const expiresIn = Number(body.expires_in);
    if (typeof token !== "string" || token === "") {
      throw new UpstreamError("oidc", `token endpoint answered no access_token`, answer.status);
    }
    cache.set(scope, { token, renewAt: renewAt(requestedAt, expiresIn) });
    return token;
  }

  return {
    token(scope = "") {
      const cached = cache.get(scope);
      if (cached && now() < cached.renewAt) return Promise.resolve(cached.token);
      let pending = inflight.get(scope);
      if (!pending) {
        pending = request(scope).finally(() => inflight.delete(scope));
        inflight.set(scope, pending);
      }
      return pending;
    },
    invalidate(scope = "") {
      cache.delete(scope);
    },
  };
}

/**
 * When to fetch a new token: 30 s before expiry, measured from when we asked (the clock at the
 * issuer may differ; ours is the one that counts). A lifetime of 60 s or less is renewed at half
 * its life instead, so a short-lived token is still reused; no `expires_in` → not cached.
 */
function renewAt(requestedAt: number, expiresInSeconds: number): number {
  if (!Number.isFinite(expiresInSeconds) || expiresInSeconds <= 0) return requestedAt;
  const lifetime = expiresInSeconds * 1000;
  return requestedAt + (lifetime > 2 * RENEW_BEFORE_MS ? lifetime - RENEW_BEFORE_MS : lifetime / 2);
}
