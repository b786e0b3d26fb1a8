import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLocalJWKSet, decodeJwt, jwtVerify } from "jose";
import { createDevClock } from "../src/dev-clock.ts";
import { startDevIssuer } from "../src/dev-issuer.ts";
import { formatRecord } from "../src/pretty-log.ts";

const dirs: string[] = [];
const tempDir = async () => {
  const dir = await mkdtemp(join(tmpdir(), "celine-dev-"));
  dirs.push(dir);
  return dir;
};
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("the dev issuer", () => {
  test("a token minted before a restart still verifies after it (same key, same port)", async () => {
    const dataDir = await tempDir();
    const first = await startDevIssuer({ dataDir, port: 0 });
    const { token } = await first.mint({ kind: "member", sub: "member-03" });
    const port = first.port;
    await first.close();

    const second = await startDevIssuer({ dataDir, port: 0 });
    try {
      expect(second.port).toBe(port);
      expect(second.url).toBe(first.url);
      const { payload } = await jwtVerify(token, createLocalJWKSet(second.jwks()), {
        issuer: second.url,
        audience: "svc-flexibility",
      });
      expect(payload.sub).toBe("member-03");
    } finally {
      await second.close();
    }
    // The private key is readable by its owner only.
    expect((await stat(join(dataDir, "dev-issuer.json"))).mode & 0o077).toBe(0);
  });

  test("service tokens carry the client, its scopes and the audience the scopes name", async () => {
    const issuer = await startDevIssuer({ dataDir: null, port: 0 });
    try {
      const { token, sub } = await issuer.mint({
        kind: "service",
        clientId: "svc-pipelines",
        scopes: ["flexibility.commitments.export"],
      });
      const claims = decodeJwt(token);
      expect(sub).toBe("service-account-id-svc-pipelines");
      expect(claims).toMatchObject({
        client_id: "svc-pipelines",
        scope: "flexibility.commitments.export",
        aud: "svc-flexibility",
        preferred_username: "service-account-svc-pipelines",
      });
    } finally {
      await issuer.close();
    }
  });
});

describe("the dev clock", () => {
  test("keeps its offset across restarts", async () => {
    const dataDir = await tempDir();
    const clock = await createDevClock(dataDir);
    const target = new Date(Date.now() + 3 * 86_400_000);
    await clock.set(target);
    const again = await createDevClock(dataDir);
    expect(Math.abs(again.now().getTime() - target.getTime())).toBeLessThan(5_000);
  });
});

describe("pretty logs", () => {
  test("one line: time, level, origin, message, then the fields", () => {
    const line = formatRecord(
      {
        time: "2026-07-02T09:00:01.234Z",
        level: "info",
        msg: "request",
        service: "flexibility-api",
        path: "/health",
        status: 200,
      },
      (_code, text) => text,
    );
    expect(line).toBe("09:00:01.234 INFO  [flexibility-api] request path=/health status=200");
  });
});
