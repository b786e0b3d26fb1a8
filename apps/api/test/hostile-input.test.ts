import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { HOOK_TIMEOUT } from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";
import { type PlatformFakes, seedMember, startPlatformFakes } from "./suggestions-fixtures.ts";

// Issue 14, item 3: the inputs that answered 500 — sent exactly as found — now answer 4xx.

setDefaultTimeout(60_000);

let h: Harness;
let fakes: PlatformFakes;
beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform };
  });
  seedMember(fakes.dt, "hostile-1", "rec-hostile", "meter-h1");
}, HOOK_TIMEOUT);
afterAll(async () => {
  await h.close();
  await fakes.close();
});

describe("NUL in a suggestion id", () => {
  test.each([
    ["REST accept", "accepted"],
    ["REST decline", "declined"],
  ])(
    "%s of /api/suggestions/ab%%00cd/respond → 422 naming the id, like every other id",
    async (_, response) => {
      const token = await h.participant("hostile-1");
      const res = await h.call("POST", "/api/suggestions/ab%00cd/respond", { token, body: { response } });
      expect(res.status, res.text).toBe(422);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(res.json.detail, res.text).toContain("NUL");
      expect(res.json.errors, res.text).toEqual([expect.objectContaining({ path: "id" })]);
    },
  );

  test("tRPC suggestions.respond with a NUL in the id → 422 (UNPROCESSABLE_CONTENT)", async () => {
    const token = await h.participant("hostile-1");
    const res = await h.call("POST", "/trpc/suggestions.respond", {
      token,
      body: { id: "ab\u0000cd", response: "accepted" },
    });
    expect(res.status, res.text).toBe(422);
    expect(res.json.error.message, res.text).toContain("NUL");
  });
});

describe("a verified token larger than any proxy passes (8 KiB)", () => {
  test("→ 401 before it is verified (the Digital Twin, sent a participant's token, would refuse it: a 502 on every call)", async () => {
    const token = await h.issuer.mintParticipant("big-claims", {
      email: `${"e".repeat(9_000)}@participants.test`,
    });
    expect(token.length).toBeGreaterThan(8_192);
    const res = await h.call("GET", "/api/suggestions", { token });
    expect(res.status, res.text).toBe(401);
    expect(res.json.detail).toBe("token invalid: longer than 8192 characters");
  });
});

describe("a verified token whose sub is longer than 255 characters", () => {
  const long = "s".repeat(3_000);
  // The sub (its index row was 3,016 bytes); the other claims short, so the token stays under 8 KiB.
  const mint = (sub: string) =>
    h.issuer.mintParticipant(sub, { email: "long@participants.test", preferred_username: "long" });

  test.each([
    ["GET", "/api/commitments"],
    ["GET", "/api/suggestions"],
    ["POST", "/api/calendar/token"],
    ["GET", "/api/points/me"],
  ])(
    "%s %s → 401 'subject longer than 255 characters', one audit record without the sub",
    async (method, path) => {
      const token = await mint(long);
      const before = h.audits().length;
      const res = await h.call(method, path, { token });
      expect(res.status, res.text).toBe(401);
      expect(res.json.detail, res.text).toBe("token invalid: subject longer than 255 characters");
      const audits = h.audits().slice(before);
      expect(audits).toHaveLength(1);
      expect(audits[0]).toMatchObject({ event: "denied", sub: null });
      expect(JSON.stringify(audits)).not.toContain(long.slice(0, 300));
    },
  );

  test("the same over tRPC → 401", async () => {
    const token = await mint(long);
    const res = await h.call("GET", "/trpc/commitments.list", { token });
    expect(res.status, res.text).toBe(401);
    expect(res.json.error.message).toBe("token invalid: subject longer than 255 characters");
  });

  test("255 characters are still a member (the boundary is the schemas' own)", async () => {
    const token = await h.participant("m".repeat(255));
    const res = await h.call("GET", "/api/commitments", { token });
    expect(res.status, res.text).toBe(200);
    const created = await h.call("POST", "/api/calendar/token", { token });
    expect(created.status, created.text).toBe(201);
  });

  test("256 characters → 401", async () => {
    const res = await h.call("GET", "/api/commitments", { token: await h.participant("m".repeat(256)) });
    expect(res.status, res.text).toBe(401);
  });
});
