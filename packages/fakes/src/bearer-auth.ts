import type { Context } from "hono";
import type { JSONWebKeySet, JWTPayload } from "jose";
import { createLocalJWKSet, errors, jwtVerify } from "jose";
import { answerProblem } from "./fault-controls.ts";

/** What a resource-server fake needs from the issuer: its identity and its current public keys. */
export type TrustedIssuer = { url: string; jwks(): JSONWebKeySet };

export type Caller = { claims: JWTPayload; kind: "service" | "participant"; scopes: string[] };

export type BearerCheck = { ok: true; caller: Caller } | { ok: false; res: Response };

/**
 * Verifies `Authorization: Bearer` as a real resource server does: asymmetric algorithms only,
 * issuer, optional audience, 30 s leeway, `sub` required. Keys are read from the issuer on every
 * call so a rotation is seen at once (the fakes share the process with the issuer).
 */
export async function verifyBearer(
  c: Context,
  issuer: TrustedIssuer,
  opts: { audience?: string | string[] } = {},
): Promise<BearerCheck> {
  const header = c.req.header("authorization");
  const challenge = { "www-authenticate": 'Bearer error="invalid_token"' };
  if (!header)
    return { ok: false, res: answerProblem(401, "missing bearer token", { "www-authenticate": "Bearer" }) };
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  const token = match?.[1];
  if (!token) return { ok: false, res: answerProblem(401, "authorization is not a bearer token", challenge) };
  try {
    const { payload } = await jwtVerify(token, createLocalJWKSet(issuer.jwks()), {
      algorithms: ["RS256", "ES256"],
      issuer: issuer.url,
      audience: opts.audience,
      clockTolerance: 30,
      requiredClaims: ["sub"],
    });
    return { ok: true, caller: describeCaller(payload) };
  } catch (error) {
    const detail =
      error instanceof errors.JWTExpired ? "token expired" : `invalid token: ${describeError(error)}`;
    return { ok: false, res: answerProblem(401, detail, challenge) };
  }
}

/** PLATFORM §2's order of rules for telling a service account from a participant. */
export function classifyClaims(claims: JWTPayload): "service" | "participant" {
  const username = typeof claims.preferred_username === "string" ? claims.preferred_username : undefined;
  if (username?.startsWith("service-account-")) return "service";
  if (claims.gty === "client-credentials") return "service";
  if (claims.email !== undefined || claims.groups !== undefined || username !== undefined)
    return "participant";
  if (claims.client_id !== undefined) return "service";
  return "participant";
}

export function describeCaller(claims: JWTPayload): Caller {
  const scopes = typeof claims.scope === "string" ? claims.scope.split(" ").filter((s) => s !== "") : [];
  return { claims, kind: classifyClaims(claims), scopes };
}

function describeError(error: unknown): string {
  if (error instanceof errors.JOSEError) return error.code;
  return error instanceof Error ? error.message : String(error);
}
