import { type Actor, UnauthorizedError } from "@celine/core";
import { createRemoteJWKSet, customFetch, errors, type JWTPayload, jwtVerify } from "jose";

// PLATFORM §2: who is calling. Tokens are verified against the realm's JWKS with asymmetric
// algorithms only; a verified token is cached (bounded) until it expires.

const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const LEEWAY_SECONDS = 30;
/** The longest `sub` we accept (UTF-16 code units, as the member id schemas count). */
const MAX_SUBJECT_LENGTH = 255;
/** A UTF-16 surrogate without its pair. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export type TokenVerifier = {
  /** The caller behind a raw JWT; throws UnauthorizedError naming the cause. */
  verify(token: string): Promise<Exclude<Actor, { kind: "system" }>>;
};

export type VerifierOptions = {
  issuer: string;
  jwksUri: string;
  audience: string;
  /** Minimum time between JWKS refetches triggered by an unknown `kid` (ms). */
  cooldownMs?: number;
  /** How long one JWKS fetch may take before the request is refused as "JWKS unreachable" (ms). */
  timeoutMs?: number;
  cacheSize?: number;
  fetch?: typeof fetch;
  now?: () => number;
};

export function createTokenVerifier({
  issuer,
  jwksUri,
  audience,
  cooldownMs = 10_000,
  timeoutMs = 5_000,
  cacheSize = 10_000,
  fetch: fetchImpl,
  now = Date.now,
}: VerifierOptions): TokenVerifier {
  const jwks = createRemoteJWKSet(new URL(jwksUri), {
    cooldownDuration: cooldownMs,
    cacheMaxAge: 10 * 60_000,
    timeoutDuration: timeoutMs,
    ...(fetchImpl ? { [customFetch]: fetchImpl } : {}),
  });
  // Insertion-ordered Map as an LRU: a hit is re-inserted, the oldest entry is evicted.
  const cache = new Map<string, { actor: Exclude<Actor, { kind: "system" }>; expiresAt: number }>();

  return {
    async verify(token) {
      const hit = cache.get(token);
      if (hit) {
        cache.delete(token);
        if (hit.expiresAt > now()) {
          cache.set(token, hit);
          return hit.actor;
        }
      }
      const payload = await verifyJwt(token);
      const actor = actorOf(payload);
      const expiresAt =
        typeof payload.exp === "number" ? payload.exp * 1000 + LEEWAY_SECONDS * 1000 : now() + 60_000;
      cache.set(token, { actor, expiresAt });
      if (cache.size > cacheSize) {
        const oldest = cache.keys().next();
        if (!oldest.done) cache.delete(oldest.value);
      }
      return actor;
    },
  };

  async function verifyJwt(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, jwks, {
        issuer,
        audience,
        algorithms: ASYMMETRIC,
        clockTolerance: LEEWAY_SECONDS,
        requiredClaims: ["sub"],
        currentDate: new Date(now()),
      });
      // jose checks that `sub` is present and a string; an empty one names nobody either, and one
      // with NUL could never be stored (PostgreSQL text refuses it), nor one with a lone surrogate
      // (not Unicode: it could be neither stored as itself nor put in the Digital Twin's URLs).
      if (payload.sub === "") throw new UnauthorizedError("token invalid: no subject");
      if (payload.sub?.includes("\u0000") || (payload.sub && LONE_SURROGATE.test(payload.sub))) {
        throw new UnauthorizedError("token invalid: malformed subject");
      }
      // A member id is at most 255 characters wherever it is stored (and indexed: a 3,000-character
      // one overflowed a B-tree row); a longer one names nobody we could hold.
      if (payload.sub && payload.sub.length > MAX_SUBJECT_LENGTH) {
        throw new UnauthorizedError("token invalid: subject longer than 255 characters");
      }
      return payload;
    } catch (error) {
      if (error instanceof UnauthorizedError) throw error;
      throw new UnauthorizedError(describeFailure(error));
    }
  }
}

function describeFailure(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "token expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    return `token invalid: ${error.claim === "iss" ? "wrong issuer" : error.claim === "aud" ? "wrong audience" : error.claim === "nbf" ? "not yet valid" : error.claim === "sub" ? "no subject" : error.message}`;
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return "token invalid: algorithm not allowed";
  if (error instanceof errors.JWKSNoMatchingKey) return "token invalid: signing key not found in JWKS";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "token invalid: bad signature";
  if (error instanceof errors.JWKSTimeout) return "JWKS unreachable: timed out";
  if (error instanceof errors.JWKSInvalid) return "JWKS unreachable: invalid key set";
  if (error instanceof errors.JOSEError) {
    // jose reports a non-200 JWKS answer as a plain JOSEError.
    if (/JWKS|Expected 200/i.test(error.message)) return `JWKS unreachable: ${error.message}`;
    return `token invalid: ${error.message}`;
  }
  // Network failures while fetching the JWKS surface as fetch errors.
  if (error instanceof TypeError || (error instanceof Error && /fetch|connect|ECONN/i.test(error.message))) {
    return "JWKS unreachable";
  }
  return "token invalid";
}

/** PLATFORM §2: service account or participant, in the documented order. */
export function actorOf(claims: JWTPayload): Exclude<Actor, { kind: "system" }> {
  const sub = String(claims.sub);
  const username = typeof claims.preferred_username === "string" ? claims.preferred_username : undefined;
  const clientId =
    typeof claims.client_id === "string"
      ? claims.client_id
      : typeof claims.azp === "string"
        ? claims.azp
        : null;
  const scopes = typeof claims.scope === "string" ? claims.scope.split(" ").filter(Boolean) : [];
  const realm = claims.realm_access as { roles?: unknown } | undefined;
  const roles = Array.isArray(realm?.roles)
    ? realm.roles.filter((r): r is string => typeof r === "string")
    : [];
  const base = { id: sub, clientId, scopes, roles };
  return { kind: isService(claims, username) ? "service" : "participant", ...base };
}

function isService(claims: JWTPayload, username: string | undefined): boolean {
  if (username?.startsWith("service-account-")) return true;
  if (claims.gty === "client-credentials") return true;
  const groups = claims.groups;
  if (
    typeof claims.email === "string" ||
    (Array.isArray(groups) && groups.length > 0) ||
    username !== undefined
  ) {
    return false;
  }
  return typeof claims.client_id === "string";
}

/** PLATFORM §2: the proxy header first, then `Authorization: Bearer`. */
export function tokenFrom(headers: Headers, headerName: string): string | null {
  const proxied = headers.get(headerName)?.trim();
  if (proxied) return proxied.replace(/^Bearer\s+/i, "");
  const authorization = headers.get("authorization");
  const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  return match?.[1] ?? null;
}
