import { type Logger, messageOf } from "@celine/core";
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";

// The realm's key set (PLATFORM §2), kept stale-while-revalidate: once fetched, keys keep verifying
// while the IdP cannot be reached, for a bounded time, and the IdP is asked at most once per cooldown
// whatever the traffic — instead of every new token waiting out a timeout and failing.

/** The key set could not be had (the IdP unreachable, slow or answering nonsense); the message says how. */
export class JwksUnavailableError extends Error {
  override name = "JwksUnavailableError";
}

export type KeySetOptions = {
  uri: string;
  /** Least time between two fetches of the set, whatever asked for it: an unknown `kid`, an old set, a failure (ms). */
  cooldownMs: number;
  /** How long one fetch may take (ms). */
  timeoutMs: number;
  /** Age after which the set is refreshed in the background while it keeps verifying (ms). */
  refreshAfterMs: number;
  /**
   * Age past which a set that could not be refreshed verifies nothing more (ms since the last
   * successful fetch): the bound on trusting keys the IdP may have withdrawn meanwhile.
   */
  maxStaleMs: number;
  fetch?: typeof fetch;
  now: () => number;
  log?: Pick<Logger, "warn" | "info">;
};

type Held = { keys: ReturnType<typeof createLocalJWKSet>; fetchedAt: number };

/** A jose key resolver over the remote set; throws JwksUnavailableError when no usable set can be had. */
export function createKeySet({
  uri,
  cooldownMs,
  timeoutMs,
  refreshAfterMs,
  maxStaleMs,
  fetch: fetchImpl = fetch,
  now,
  log,
}: KeySetOptions): JWTVerifyGetKey {
  let held: Held | null = null;
  let lastAttemptAt = Number.NEGATIVE_INFINITY;
  let lastFailure = "not fetched yet";
  let failing = false;
  let inflight: Promise<Held> | null = null;

  const mayFetch = () => now() - lastAttemptAt >= cooldownMs;

  /** One fetch at a time; every caller waiting meanwhile shares it. */
  function refresh(): Promise<Held> {
    if (inflight) return inflight;
    lastAttemptAt = now();
    inflight = fetchSet()
      .then((keys) => {
        if (failing) log?.info("JWKS reachable again", { keys: keys.keys.length });
        failing = false;
        held = { keys: createLocalJWKSet(keys), fetchedAt: now() };
        return held;
      })
      .catch((error: unknown) => {
        lastFailure = describe(error);
        failing = true;
        log?.warn("JWKS unreachable", {
          cause: lastFailure,
          // How old the keys still verifying are (null: none, every token is refused).
          held_age_s: held ? Math.round((now() - held.fetchedAt) / 1000) : null,
        });
        throw new JwksUnavailableError(`JWKS unreachable: ${lastFailure}`);
      })
      .finally(() => {
        inflight = null;
      });
    return inflight;
  }

  /** A set to verify with now: the one held if young enough, else a fresh one (or the refusal). */
  async function usable(): Promise<Held> {
    if (held && now() - held.fetchedAt <= maxStaleMs) {
      // Old but not too old: keep verifying with it, ask the IdP in the background.
      if (now() - held.fetchedAt > refreshAfterMs && mayFetch()) refresh().catch(() => {});
      return held;
    }
    if (inflight || mayFetch()) return refresh();
    // Asked within the cooldown and failed: refuse at once rather than wait on the IdP again.
    throw new JwksUnavailableError(
      held
        ? `JWKS unreachable: keys older than ${Math.round(maxStaleMs / 60_000)} min`
        : `JWKS unreachable: ${lastFailure}`,
    );
  }

  async function fetchSet(): Promise<JSONWebKeySet> {
    const res = await fetchImpl(uri, {
      headers: { accept: "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
    const body = (await res.json()) as JSONWebKeySet;
    createLocalJWKSet(body); // throws JWKSInvalid unless it is a key set
    return body;
  }

  function describe(error: unknown): string {
    if (error instanceof DOMException && error.name === "TimeoutError")
      return `timed out after ${timeoutMs} ms`;
    if (error instanceof errors.JWKSInvalid || error instanceof SyntaxError) return "invalid key set";
    return messageOf(error);
  }

  return async (header, token) => {
    const set = await usable();
    try {
      return await set.keys(header, token);
    } catch (error) {
      // An unknown kid: the IdP may have rotated its keys. Refetch, once per cooldown.
      if (!(error instanceof errors.JWKSNoMatchingKey) || !(inflight || mayFetch())) throw error;
      return (await refresh()).keys(header, token);
    }
  };
}
