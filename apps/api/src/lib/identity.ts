import { type Actor, type Logger, UnauthorizedError } from "@celine/core";
import { errors, type JWTPayload, jwtVerify } from "jose";
import { createKeySet, JwksUnavailableError } from "./jwks.ts";

// PLATFORM §2: who is calling. Tokens are verified against the realm's JWKS with asymmetric
// algorithms only, and must carry `exp` and a string `sub`; a verified token is cached (bounded)
// until it expires. The key set is kept stale-while-revalidate (jwks.ts): refreshed in the
// background after 10 min, and while the IdP cannot be reached, keys fetched within the last hour
// keep verifying, with one attempt to reach it per cooldown.

const ASYMMETRIC = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
const LEEWAY_SECONDS = 30;
/** The longest token we look at (characters of the compact JWS). */
const MAX_TOKEN_LENGTH = 8192;
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
  /** Least time between two JWKS fetches (an unknown `kid`, a refresh, a retry after a failure) (ms). */
  cooldownMs?: number;
  /** How long one JWKS fetch may take before the request is refused as "JWKS unreachable" (ms). */
  timeoutMs?: number;
  /** Age of the key set after which it is refreshed in the background (ms; 10 min). */
  refreshAfterMs?: number;
  /** Age past which a key set the IdP cannot refresh verifies nothing more (ms; 1 h). */
  maxStaleMs?: number;
  /** Where a JWKS outage (and the recovery) is logged. */
  log?: Pick<Logger, "warn" | "info">;
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
  refreshAfterMs = 10 * 60_000,
  maxStaleMs = 60 * 60_000,
  cacheSize = 10_000,
  fetch: fetchImpl,
  now = Date.now,
  log,
}: VerifierOptions): TokenVerifier {
  const jwks = createKeySet({
    uri: jwksUri,
    cooldownMs,
    timeoutMs,
    refreshAfterMs,
    maxStaleMs,
    fetch: fetchImpl,
    now,
    log,
  });
  // Insertion-ordered Map as an LRU: a hit is re-inserted, the oldest entry is evicted.
  const cache = new Map<string, { actor: Exclude<Actor, { kind: "system" }>; expiresAt: number }>();

  return {
    async verify(token) {
      // What no proxy in front passes (8 KiB headers) and the Digital Twin, which is sent the
      // participant's token, refuses (431): a verified token that size would be a 502 on every call.
      if (token.length > MAX_TOKEN_LENGTH)
        throw new UnauthorizedError("token invalid: longer than 8192 characters");
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
      // `exp` is required and a number (verifyJwt): the token is good until then, leeway included.
      cache.set(token, { actor, expiresAt: (payload.exp ?? 0) * 1000 + LEEWAY_SECONDS * 1000 });
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
        // Without `exp` a token would be good forever.
        requiredClaims: ["sub", "exp"],
        currentDate: new Date(now()),
      });
      const { sub } = payload;
      // jose checks that `sub` is present, not that it is a string.
      if (typeof sub !== "string") throw new UnauthorizedError("token invalid: sub must be a string");
      // An empty one names nobody either, and one with NUL could never be stored (PostgreSQL text
      // refuses it), nor one with a lone surrogate (not Unicode: it could be neither stored as
      // itself nor put in the Digital Twin's URLs).
      if (sub === "") throw new UnauthorizedError("token invalid: no subject");
      if (sub.includes("\u0000") || LONE_SURROGATE.test(sub)) {
        throw new UnauthorizedError("token invalid: malformed subject");
      }
      // A member id is at most 255 characters wherever it is stored (and indexed: a 3,000-character
      // one overflowed a B-tree row); a longer one names nobody we could hold.
      if (sub.length > MAX_SUBJECT_LENGTH) {
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
  if (error instanceof JwksUnavailableError) return error.message;
  if (error instanceof errors.JWTExpired) return "token expired";
  if (error instanceof errors.JWTClaimValidationFailed) return `token invalid: ${describeClaim(error)}`;
  if (error instanceof errors.JOSEAlgNotAllowed) return "token invalid: algorithm not allowed";
  if (error instanceof errors.JWKSNoMatchingKey) return "token invalid: signing key not found in JWKS";
  if (error instanceof errors.JWSSignatureVerificationFailed) return "token invalid: bad signature";
  if (error instanceof errors.JOSEError) return `token invalid: ${error.message}`;
  // Anything else is a defect of ours or jose's, not the IdP's: the token is refused all the same.
  return "token invalid";
}

function describeClaim(error: InstanceType<typeof errors.JWTClaimValidationFailed>): string {
  switch (error.claim) {
    case "iss":
      return "wrong issuer";
    case "aud":
      return "wrong audience";
    case "nbf":
      return "not yet valid";
    case "sub":
      return "no subject";
    case "exp":
      return error.reason === "missing" ? "exp is required" : "exp must be a number";
    default:
      return error.message;
  }
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
