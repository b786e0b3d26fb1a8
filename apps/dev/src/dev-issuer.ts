// The development OIDC issuer: the contract fake (discovery, JWKS, client-credentials token
// endpoint for our own outbound calls) plus one RS256 key persisted under the data directory.
// Tokens handed to people (`bun run dev` banner, `bun run dev:token`) are signed with that key and
// the issuer keeps its port between runs, so a pasted token still works after a restart.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type OidcIssuer, startOidcIssuer, type TrustedIssuer } from "@celine/fakes";
import { exportJWK, generateKeyPair, importJWK, type JSONWebKeySet, type JWK } from "jose";
import { z } from "zod";
import { pickPort } from "./ports.ts";

const STATE_FILE = "dev-issuer.json";
const PersistedIssuer = z.object({
  port: z.number().int().min(1).max(65535),
  kid: z.string().min(1),
  privateJwk: z.looseObject({ kty: z.literal("RSA"), n: z.string(), e: z.string(), d: z.string() }),
});
type PersistedIssuer = z.infer<typeof PersistedIssuer>;

export type MintRequest =
  | { kind: "member"; sub: string; scopes?: string[]; ttlSeconds?: number }
  | { kind: "service"; clientId: string; scopes: string[]; ttlSeconds?: number };

export type DevIssuer = {
  /** The `iss` of every token, e.g. http://127.0.0.1:8080/realms/celine. */
  url: string;
  port: number;
  tokenEndpoint: string;
  /** The fake's keys plus the persisted one: what the API and the other fakes must trust. */
  jwks(): JSONWebKeySet;
  /** For the other fakes: the issuer with the complete key set. */
  trusted: TrustedIssuer;
  fake: OidcIssuer;
  /** Whether the persisted port was taken, so tokens from earlier runs no longer verify. */
  movedFromPort: number | null;
  mint(request: MintRequest): Promise<{ token: string; sub: string; expiresIn: number }>;
  close(): Promise<void>;
};

/** Default lifetime of a token for a person to paste (seconds). */
export const DEV_TOKEN_TTL_SECONDS = 12 * 3600;

export async function startDevIssuer({
  dataDir,
  port,
  insist = false,
}: {
  /** Where the key and port persist; null keeps both in memory (tests). */
  dataDir: string | null;
  /** Preferred port; the persisted one wins unless the caller insists (DEV_OIDC_PORT was set). */
  port: number;
  insist?: boolean;
}): Promise<DevIssuer> {
  const file = dataDir === null ? null : join(dataDir, STATE_FILE);
  const saved = file ? await readState(file) : null;
  const wanted = insist ? port : (saved?.port ?? port);
  const picked = await pickPort(wanted);
  const fake = await startOidcIssuer({ port: picked.port, tokenTtlSeconds: 3600 });
  const key = saved ? { kid: saved.kid, privateJwk: saved.privateJwk } : await createPersistentKey();
  if (file) await writeState(file, { port: picked.port, kid: key.kid, privateJwk: key.privateJwk });
  const privateKey = await importJWK(key.privateJwk, "RS256");
  const publicJwk: JWK = {
    kty: "RSA",
    n: key.privateJwk.n,
    e: key.privateJwk.e,
    kid: key.kid,
    alg: "RS256",
    use: "sig",
  };
  const jwks = (): JSONWebKeySet => ({ keys: [...fake.jwks().keys, publicJwk] });

  async function mint(request: MintRequest) {
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = request.ttlSeconds ?? DEV_TOKEN_TTL_SECONDS;
    const times = { iat: now, exp: now + expiresIn, jti: crypto.randomUUID() };
    const claims =
      request.kind === "member"
        ? {
            iss: fake.url,
            aud: fake.audience,
            sub: request.sub,
            typ: "Bearer",
            azp: "celine-webapp",
            scope: ["openid", "profile", "email", ...(request.scopes ?? [])].join(" "),
            email: `${request.sub}@demo.celine.test`,
            email_verified: true,
            preferred_username: request.sub,
            realm_access: { roles: ["participant"] },
            ...times,
          }
        : {
            iss: fake.url,
            aud: fake.audienceForScopes(request.scopes),
            sub: `service-account-id-${request.clientId}`,
            typ: "Bearer",
            azp: request.clientId,
            client_id: request.clientId,
            preferred_username: `service-account-${request.clientId}`,
            scope: request.scopes.join(" "),
            ...times,
          };
    const token = await fake.mint(claims, { alg: "RS256", kid: key.kid, key: privateKey });
    return { token, sub: claims.sub, expiresIn };
  }

  return {
    url: fake.url,
    port: picked.port,
    tokenEndpoint: fake.tokenEndpoint,
    jwks,
    trusted: { url: fake.url, jwks },
    fake,
    movedFromPort: saved && saved.port !== picked.port ? saved.port : null,
    mint,
    close: () => fake.close(),
  };
}

async function createPersistentKey(): Promise<{ kid: string; privateJwk: PersistedIssuer["privateJwk"] }> {
  const { privateKey } = await generateKeyPair("RS256", { extractable: true });
  const privateJwk = PersistedIssuer.shape.privateJwk.parse(await exportJWK(privateKey));
  return { kid: `dev-rs256-${crypto.randomUUID().slice(0, 8)}`, privateJwk };
}

async function readState(file: string): Promise<PersistedIssuer | null> {
  try {
    const parsed = PersistedIssuer.safeParse(JSON.parse(await readFile(file, "utf8")));
    // An unreadable file is replaced: the only loss is that older tokens stop verifying.
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

async function writeState(file: string, state: PersistedIssuer): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  // The private key stays on this machine: mode 0600, under the git-ignored data directory.
  await writeFile(file, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}
