import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { commitments } from "@celine/core/db";
import { eq } from "drizzle-orm";
import {
  expectFieldError,
  expectProblem,
  HOOK_TIMEOUT,
  SCOPE,
  seedCommitment,
  UNKNOWN_ID,
} from "./fixtures.ts";
import { createHarness, type Harness } from "./harness.ts";
import { createWindowPublisher, type WindowPublisher } from "./published-windows.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";

// DELETE /api/commitments/{id} (PLATFORM §1, issue 2 item 4).

let h: Harness;
let fakes: PlatformFakes;
let windows: WindowPublisher;
let alice: string;
beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform };
  });
  windows = createWindowPublisher(fakes.dt);
  alice = await h.participant("alice");
}, HOOK_TIMEOUT);
afterAll(async () => {
  await h.close();
  await fakes.close();
});

const cancel = (token: string | undefined, id: string) =>
  h.call("DELETE", `/api/commitments/${id}`, { token });

async function statusOf(id: string): Promise<string | undefined> {
  const [row] = await h.database.db
    .select({ status: commitments.status })
    .from(commitments)
    .where(eq(commitments.id, id));
  return row?.status;
}

async function aliceCommits(): Promise<string> {
  const res = await h.call("POST", "/api/commitments", { token: alice, body: windows.publish("alice") });
  expect(res.status, res.text).toBe(201);
  return res.json.id;
}

describe("happy", () => {
  test("the owner cancels their live commitment: 204, empty body, status cancelled", async () => {
    const id = await aliceCommits();
    const res = await cancel(alice, id);
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");
    expect(await statusOf(id)).toBe("cancelled");
    const listed = await h.call("GET", "/api/commitments?status=cancelled&limit=200", { token: alice });
    expect(listed.json.items.map((c: { id: string }) => c.id)).toContain(id);
  });

  test("the owner's token through the proxy header works the same", async () => {
    const id = await aliceCommits();
    const res = await h.call("DELETE", `/api/commitments/${id}`, {
      headers: { "x-auth-request-access-token": alice },
    });
    expect(res.status, res.text).toBe(204);
  });

  test("a service with write scope cancels any member's live commitment", async () => {
    const id = await aliceCommits();
    const res = await cancel(await h.service([SCOPE.write]), id);
    expect(res.status, res.text).toBe(204);
    expect(await statusOf(id)).toBe("cancelled");
  });
});

describe("errors", () => {
  test("unknown id → 404", async () => {
    expectProblem(await cancel(alice, UNKNOWN_ID), 404);
  });

  test("cancelling twice → 409 the second time", async () => {
    const id = await aliceCommits();
    expect((await cancel(alice, id)).status).toBe(204);
    expectProblem(await cancel(alice, id), 409, "cancelled");
  });

  test.each(["settled", "rejected", "cancelled"] as const)(
    "a %s commitment → 409, unchanged",
    async (status) => {
      const { id } = await seedCommitment(h, { userId: "alice", status });
      expectProblem(await cancel(alice, id), 409, status);
      expect(await statusOf(id)).toBe(status);
    },
  );

  test.each([
    ["not a uuid", "abc"],
    ["a number", "12345"],
    ["a uuid with a suffix", `${UNKNOWN_ID}x`],
    ["a uuid without dashes", UNKNOWN_ID.replaceAll("-", "z")],
    ["a static sibling path", "pending"],
  ])("malformed id (%s) → 422 naming id", async (_, id) => {
    expectFieldError(await cancel(alice, id), "id");
  });
});

describe("security", () => {
  test("somebody else's commitment → 404 (never 403), and it stays live", async () => {
    const id = await aliceCommits();
    const res = await cancel(await h.participant("mallory"), id);
    expectProblem(res, 404);
    expect(res.json.detail).not.toMatch(/owner|forbidden|alice/i);
    expect(await statusOf(id)).toBe("committed");
  });

  test("a stranger's answer is byte-identical to an unknown id's (apart from the id and request id)", async () => {
    const id = await aliceCommits();
    const mallory = await h.participant("mallory");
    const stranger = await cancel(mallory, id);
    const unknown = await cancel(mallory, UNKNOWN_ID);
    const strip = (r: { json: Record<string, unknown> }, x: string) =>
      JSON.stringify({ ...r.json, request_id: null }).replaceAll(x, "ID");
    expect(strip(stranger, id)).toBe(strip(unknown, UNKNOWN_ID));
  });

  test("no token → 401 and the commitment stays live", async () => {
    const id = await aliceCommits();
    expectProblem(await cancel(undefined, id), 401);
    expect(await statusOf(id)).toBe("committed");
  });

  test.each([
    ["read scope only", [SCOPE.read]],
    ["export scope only", [SCOPE.export]],
  ])("a service with %s → 403 naming the write scope", async (_, scopes) => {
    const id = await aliceCommits();
    expectProblem(
      await cancel(await h.service(scopes), id),
      403,
      "missing scope flexibility.commitments.write",
    );
    expect(await statusOf(id)).toBe("committed");
  });
});
