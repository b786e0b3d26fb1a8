import { Hono } from "hono";
import type { CryptoKey, JSONWebKeySet, JWK, JWTPayload } from "jose";
import { base64url, exportJWK, exportSPKI, generateKeyPair, SignJWT } from "jose";
import type { FakeEnv, FaultControls } from "./fault-controls.ts";
import { createFaultControls } from "./fault-controls.ts";
import { serveApp } from "./serve-app.ts";

export type OidcClient = { secret: string; scopes: string[] };

/** `expiresIn`: seconds from now (negative = already expired) or a jose time span ("5m", "-2m"). */
export type MintOptions = { expiresIn?: number | string; kid?: string };

export type RawMintOptions = {
  alg?: string;
  /** `null` leaves `kid` out of the header. Defaults to the current key of `alg`. */
  kid?: string | null;
  key?: CryptoKey | Uint8Array;
};

/** Tokens a JWKS-verifying service must refuse, one per classic mistake. */
export const forgeryKinds = [
  "expired",
  "not-yet-valid",
  "wrong-issuer",
  "wrong-audience",
  "missing-sub",
  "hs256-public-pem",
  "hs256-public-jwk",
  "alg-none",
  "unknown-kid",
  "foreign-key-known-kid",
  "tampered-payload",
] as const;
export type ForgeryKind = (typeof forgeryKinds)[number];

export type OidcIssuerOptions = {
  /** Audience of participant tokens and of service tokens with `flexibility.*` scopes. */
  audience?: string;
  clients?: Record<string, OidcClient>;
  /** Lifetime of tokens from the token endpoint and of minted tokens (seconds). */
  tokenTtlSeconds?: number;
  realm?: string;
  port?: number;
};

export type OidcIssuer = FaultControls & {
  /** The issuer (`iss`), e.g. http://127.0.0.1:PORT/realms/celine. */
  url: string;
  discoveryUrl: string;
  jwksUri: string;
  tokenEndpoint: string;
  audience: string;
  /** Registered clients; tests may add or change entries while the issuer runs. */
  clients: Record<string, OidcClient>;
  app: Hono<FakeEnv>;
  close(): Promise<void>;
  /** The published key set (what the JWKS endpoint answers). */
  jwks(): JSONWebKeySet;
  mintParticipant(sub: string, claims?: JWTPayload, opts?: MintOptions): Promise<string>;
  mintService(clientId: string, scopes: string[], claims?: JWTPayload, opts?: MintOptions): Promise<string>;
  /** Signs exactly `claims` (no defaults added); for negative tests. */
  mint(claims: JWTPayload, opts?: RawMintOptions): Promise<string>;
  mintForged(kind: ForgeryKind, sub?: string): Promise<string>;
  /** Publishes a new RS256 key (new kid) that signs from now on; `retire` drops the older RSA keys. */
  rotateKeys(opts?: { retire?: boolean }): Promise<string>;
  audienceForScopes(scopes: string[]): string | string[];
};

type SigningKey = {
  kid: string;
  alg: "RS256" | "ES256";
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
};

export const defaultOidcClients: Record<string, OidcClient> = {
  "svc-flexibility": {
    secret: "svc-flexibility-secret",
    scopes: [
      "nudging.ingest",
      "digital-twin.read",
      "rec-registry.read",
      "flexibility.committed.read",
      "flexibility.committed.write",
    ],
  },
  "svc-pipelines": { secret: "svc-pipelines-secret", scopes: ["flexibility.commitments.export"] },
  "svc-admin": { secret: "svc-admin-secret", scopes: ["flexibility.admin"] },
};

export async function startOidcIssuer(opts: OidcIssuerOptions = {}): Promise<OidcIssuer> {
  const audience = opts.audience ?? "svc-flexibility";
  const ttl = opts.tokenTtlSeconds ?? 300;
  const realm = opts.realm ?? "celine";
  const clients: Record<string, OidcClient> = structuredClone(opts.clients ?? defaultOidcClients);
  const keys: SigningKey[] = [await createSigningKey("RS256"), await createSigningKey("ES256")];
  const faults = createFaultControls();
  const realmPath = `/realms/${realm}`;
  const paths = {
    discovery: `${realmPath}/.well-known/openid-configuration`,
    jwks: `${realmPath}/protocol/openid-connect/certs`,
    token: `${realmPath}/protocol/openid-connect/token`,
  };
  // The issuer URL carries the port, known only once the server listens; routes read it lazily.
  let base = "";
  const issuerUrl = () => `${base}${realmPath}`;

  function currentKey(alg: string): SigningKey | undefined {
    return keys.findLast((k) => k.alg === alg);
  }

  function jwks(): JSONWebKeySet {
    return { keys: keys.map((k) => k.jwk) };
  }

  function audienceForScopes(scopes: string[]): string | string[] {
    const audiences = new Set<string>();
    for (const scope of scopes) {
      const dot = scope.indexOf(".");
      if (dot <= 0) continue;
      const service = scope.slice(0, dot);
      audiences.add(service === "flexibility" ? audience : `svc-${service}`);
    }
    const list = [...audiences];
    if (list.length === 0) return audience;
    return list.length === 1 ? (list[0] ?? audience) : list;
  }

  async function mint(claims: JWTPayload, raw: RawMintOptions = {}): Promise<string> {
    const alg = raw.alg ?? "RS256";
    const own = currentKey(alg);
    const key = raw.key ?? own?.privateKey;
    if (!key) throw new Error(`no key for ${alg}: pass opts.key`);
    const kid = raw.kid === undefined ? own?.kid : raw.kid;
    const header = kid === null || kid === undefined ? { alg, typ: "JWT" } : { alg, typ: "JWT", kid };
    return new SignJWT(claims).setProtectedHeader(header).sign(key);
  }

  function timeClaims(mintOpts: MintOptions): JWTPayload {
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = mintOpts.expiresIn ?? ttl;
    const exp = typeof expiresIn === "number" ? now + expiresIn : now + parseSpan(expiresIn);
    return { iat: now, exp, jti: crypto.randomUUID() };
  }

  function signWith(claims: JWTPayload, mintOpts: MintOptions): Promise<string> {
    return mint(claims, { kid: mintOpts.kid });
  }

  function participantClaims(sub: string, claims: JWTPayload, mintOpts: MintOptions): JWTPayload {
    return {
      iss: issuerUrl(),
      aud: audience,
      sub,
      typ: "Bearer",
      azp: "celine-webapp",
      scope: "openid profile email",
      email: `${sub}@participants.test`,
      email_verified: true,
      preferred_username: sub,
      realm_access: { roles: ["participant"] },
      ...timeClaims(mintOpts),
      ...claims,
    };
  }

  function serviceClaims(
    clientId: string,
    scopes: string[],
    claims: JWTPayload,
    mintOpts: MintOptions,
  ): JWTPayload {
    return {
      iss: issuerUrl(),
      aud: audienceForScopes(scopes),
      sub: `service-account-id-${clientId}`,
      typ: "Bearer",
      azp: clientId,
      client_id: clientId,
      preferred_username: `service-account-${clientId}`,
      scope: scopes.join(" "),
      ...timeClaims(mintOpts),
      ...claims,
    };
  }

  async function mintForged(kind: ForgeryKind, sub = "forged-user"): Promise<string> {
    const valid = participantClaims(sub, {}, {});
    const now = Math.floor(Date.now() / 1000);
    const rsa = currentKey("RS256");
    if (!rsa) throw new Error("issuer has no RSA key");
    switch (kind) {
      case "expired":
        // Past the 30 s leeway the contract allows.
        return mint({ ...valid, iat: now - 600, exp: now - 120 });
      case "not-yet-valid":
        return mint({ ...valid, nbf: now + 120 });
      case "wrong-issuer":
        return mint({ ...valid, iss: `${base}/realms/not-${realm}` });
      case "wrong-audience":
        return mint({ ...valid, aud: "svc-someone-else" });
      case "missing-sub": {
        const { sub: _dropped, ...rest } = valid;
        return mint(rest);
      }
      case "hs256-public-pem":
        // Key confusion: a verifier that lets the header pick the algorithm would use the public key as HMAC secret.
        return mint(valid, {
          alg: "HS256",
          kid: rsa.kid,
          key: new TextEncoder().encode(await exportSPKI(rsa.publicKey)),
        });
      case "hs256-public-jwk":
        return mint(valid, {
          alg: "HS256",
          kid: rsa.kid,
          key: new TextEncoder().encode(JSON.stringify(rsa.jwk)),
        });
      case "alg-none":
        return `${encodeSegment({ alg: "none", typ: "JWT" })}.${encodeSegment(valid)}.`;
      case "unknown-kid": {
        const stranger = await createSigningKey("RS256");
        return mint(valid, { kid: stranger.kid, key: stranger.privateKey });
      }
      case "foreign-key-known-kid": {
        const stranger = await createSigningKey("RS256");
        return mint(valid, { kid: rsa.kid, key: stranger.privateKey });
      }
      case "tampered-payload": {
        const [header, , signature] = (await mint(valid)).split(".");
        const escalated = { ...valid, sub: "someone-else", realm_access: { roles: ["admin"] } };
        return `${header}.${encodeSegment(escalated)}.${signature}`;
      }
    }
  }

  const app = new Hono<FakeEnv>();
  app.use(faults.middleware);
  app.get(paths.discovery, (c) =>
    c.json({
      issuer: issuerUrl(),
      jwks_uri: `${base}${paths.jwks}`,
      token_endpoint: `${base}${paths.token}`,
      grant_types_supported: ["client_credentials"],
      token_endpoint_auth_methods_supported: ["client_secret_post", "client_secret_basic"],
      id_token_signing_alg_values_supported: ["RS256", "ES256"],
      response_types_supported: ["token"],
      subject_types_supported: ["public"],
    }),
  );
  app.get(paths.jwks, (c) => c.json(jwks()));
  app.post(paths.token, async (c) => {
    const parsed = c.get("parsedBody");
    if (parsed.kind !== "form") {
      return c.json({ error: "invalid_request", error_description: "form-encoded body required" }, 400);
    }
    const form = parsed.value;
    if (form.grant_type !== "client_credentials") {
      return c.json({ error: "unsupported_grant_type", error_description: "only client_credentials" }, 400);
    }
    const credentials = readClientCredentials(c.req.header("authorization"), form);
    const client = credentials ? clients[credentials.id] : undefined;
    if (!credentials || !client || client.secret !== credentials.secret) {
      return c.json(
        { error: "invalid_client", error_description: "Invalid client or Invalid client credentials" },
        401,
      );
    }
    const requested = (form.scope ?? "").split(" ").filter((s) => s !== "");
    const unknown = requested.filter((s) => !client.scopes.includes(s));
    if (unknown.length > 0) {
      return c.json({ error: "invalid_scope", error_description: `not allowed: ${unknown.join(" ")}` }, 400);
    }
    const scopes = requested.length > 0 ? requested : client.scopes;
    const accessToken = await signWith(serviceClaims(credentials.id, scopes, {}, {}), {});
    return c.json({
      access_token: accessToken,
      expires_in: ttl,
      refresh_expires_in: 0,
      token_type: "Bearer",
      "not-before-policy": 0,
      scope: scopes.join(" "),
    });
  });
  app.notFound((c) => c.json({ error: "not_found" }, 404));

  const served = serveApp(app.fetch, { port: opts.port, onClose: faults.releaseAll });
  base = served.url;

  return {
    ...faults,
    url: issuerUrl(),
    discoveryUrl: `${base}${paths.discovery}`,
    jwksUri: `${base}${paths.jwks}`,
    tokenEndpoint: `${base}${paths.token}`,
    audience,
    clients,
    app,
    close: served.close,
    jwks,
    mint,
    mintForged,
    audienceForScopes,
    mintParticipant: (sub, claims = {}, mintOpts = {}) =>
      signWith(participantClaims(sub, claims, mintOpts), mintOpts),
    mintService: (clientId, scopes, claims = {}, mintOpts = {}) =>
      signWith(serviceClaims(clientId, scopes, claims, mintOpts), mintOpts),
    async rotateKeys(rotateOpts = {}) {
      const fresh = await createSigningKey("RS256");
      if (rotateOpts.retire) {
        for (let i = keys.length - 1; i >= 0; i -= 1) if (keys[i]?.alg === "RS256") keys.splice(i, 1);
      }
      keys.push(fresh);
      return fresh.kid;
    },
  };
}

async function createSigningKey(alg: "RS256" | "ES256"): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = `${alg.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`;
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicKey, jwk };
}

function readClientCredentials(
  authorization: string | undefined,
  form: Record<string, string>,
): { id: string; secret: string } | undefined {
  if (authorization?.startsWith("Basic ")) {
    const decoded = atob(authorization.slice("Basic ".length));
    const colon = decoded.indexOf(":");
    if (colon < 0) return undefined;
    return {
      id: decodeURIComponent(decoded.slice(0, colon)),
      secret: decodeURIComponent(decoded.slice(colon + 1)),
    };
  }
  if (form.client_id === undefined || form.client_secret === undefined) return undefined;
  return { id: form.client_id, secret: form.client_secret };
}

function encodeSegment(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

/** Seconds in a span like "90s", "5m", "-2h" (the subset of jose's syntax the fakes use). */
function parseSpan(span: string): number {
  const match = /^(-?\d+)\s*(s|m|h|d)?$/.exec(span.trim());
  if (!match) throw new Error(`unsupported time span: ${span}`);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? "s") as "s" | "m" | "h" | "d"];
  return Number(match[1]) * unit;
}
