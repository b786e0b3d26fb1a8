// `bun run dev`: the service with nothing to configure — embedded PostgreSQL (PGlite under
// .data/), a development OIDC issuer, docs on. Development posture only (CELINE_ENV=dev).
import { mkdir } from "node:fs/promises";
import { startOidcIssuer } from "@celine/fakes";
import { parseApiEnv } from "../../api/src/env.ts";
import { assemble } from "../../api/src/server.ts";

const dataDir = process.env.PGLITE_DATA_DIR ?? ".data/pglite";
await mkdir(dataDir, { recursive: true });
const issuer = await startOidcIssuer({
  port: Number(process.env.DEV_OIDC_PORT ?? 8080),
  tokenTtlSeconds: 8 * 3600,
});

const env = parseApiEnv({
  ...process.env,
  CELINE_ENV: "dev",
  CELINE_OIDC_BASE_URL: issuer.url,
  CELINE_OIDC_JWKS_URI: issuer.jwksUri,
});
const { app, database } = await assemble(env, { dataDir });
const server = Bun.serve({ port: env.PORT, fetch: app.fetch });

const member = await issuer.mintParticipant("member-1", { email: "member-1@example.org" });
console.log(`Flexibility API (dev) on http://localhost:${server.port}  docs: http://localhost:${server.port}/docs
OIDC issuer: ${issuer.url}
A member token (8 h):
  curl -H "Authorization: Bearer ${member}" http://localhost:${server.port}/api/commitments`);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, async () => {
    await server.stop();
    await database.close();
    await issuer.close();
    process.exit(0);
  });
}
