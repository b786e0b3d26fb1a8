import { describe, expect, test } from "bun:test";
import { brokerLogin, jwtExpiry, safeUrl } from "../src/index.ts";
import type { TokenProvider } from "../src/token-provider.ts";

/** A token provider that hands out numbered unsigned JWTs and records what it was asked. */
function countingTokens(): TokenProvider & {
  asked: (string | undefined)[];
  invalidated: (string | undefined)[];
} {
  let n = 0;
  let cached: string | null = null;
  const asked: (string | undefined)[] = [];
  const invalidated: (string | undefined)[] = [];
  return {
    asked,
    invalidated,
    async token(scope) {
      asked.push(scope);
      if (!cached) {
        n += 1;
        cached = `h.${btoa(JSON.stringify({ exp: 2_000_000_000 + n })).replaceAll("=", "")}.s`;
      }
      return cached;
    },
    invalidate(scope) {
      invalidated.push(scope);
      cached = null;
    },
  };
}

describe("brokerLogin", () => {
  test("jwt: the token as username, `jwt` as password, its exp as the expiry; a fresh login skips the cache", async () => {
    const tokens = countingTokens();
    const login = brokerLogin({ kind: "jwt", tokens, scope: "mqtt.write" });
    const first = await login(false);
    expect(first).toMatchObject({ password: "jwt", expiresAt: 2_000_000_001_000 });
    expect(await login(false)).toEqual(first);
    expect(tokens.invalidated).toEqual([]);
    const renewed = await login(true);
    expect(tokens.invalidated).toEqual(["mqtt.write"]);
    expect(renewed.username).not.toBe(first.username);
    expect(renewed.expiresAt).toBe(2_000_000_002_000);
    expect(tokens.asked).toEqual(["mqtt.write", "mqtt.write", "mqtt.write"]);
  });

  test("password: the configured pair as given, never expiring", async () => {
    const login = brokerLogin({ kind: "password", username: "flex", password: "s3cret" });
    expect(await login(true)).toEqual({ username: "flex", password: "s3cret" });
  });
});

describe("jwtExpiry and safeUrl", () => {
  test("a JWT's exp in ms, null for anything else", () => {
    expect(jwtExpiry(`h.${btoa('{"exp":1700000000}')}.s`)).toBe(1_700_000_000_000);
    expect(jwtExpiry("not-a-jwt")).toBeNull();
    expect(jwtExpiry(`h.${btoa('{"sub":"x"}')}.s`)).toBeNull();
  });

  test("credentials never reach a log line", () => {
    expect(safeUrl("mqtts://user:pw@broker.example:8883/")).toBe("mqtts://broker.example:8883");
  });
});
