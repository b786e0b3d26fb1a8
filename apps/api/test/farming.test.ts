import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { commitments } from "@celine/core/db";
import { and, eq } from "drizzle-orm";
import { createClock, HOOK_TIMEOUT } from "./fixtures.ts";
import { createHarness, type Harness, type Json } from "./harness.ts";
import { createWindowPublisher, type WindowPublisher } from "./published-windows.ts";
import { type PlatformFakes, startPlatformFakes } from "./suggestions-fixtures.ts";

// Issue 12's security acceptance: the farming sequence is refused, over REST and tRPC alike. Tried
// as a farmer would: another member's device and community, a window that has ended, windows that
// overlap, a window nobody published, an inflated reward, a two-month window. Each is either
// refused or replaced by what the Digital Twin publishes for the caller.

const NOW = "2026-07-01T08:30:00.000Z";
const clock = createClock(NOW);
let h: Harness;
let fakes: PlatformFakes;
let windows: WindowPublisher;
beforeAll(async () => {
  h = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform, now: clock.now };
  });
  windows = createWindowPublisher(fakes.dt, clock.now);
}, HOOK_TIMEOUT);
afterAll(async () => {
  await h.close();
  await fakes.close();
});
afterEach(() => clock.set(NOW));

type Transport = "rest" | "trpc";
/** One answer whatever the transport: the HTTP status, the error's message, the success value. */
type Outcome = { status: number; detail: string | undefined; data: Json; text: string };

async function call(
  transport: Transport,
  rest: { path: string; body: unknown },
  procedure: string,
  input: unknown,
  token: string,
): Promise<Outcome> {
  const res =
    transport === "rest"
      ? await h.call("POST", rest.path, { token, body: rest.body })
      : await h.call("POST", `/trpc/${procedure}`, { token, body: input });
  if (transport === "rest") {
    return { status: res.status, detail: res.json?.detail, data: res.json, text: res.text };
  }
  return {
    status: res.status,
    detail: res.json?.error?.message,
    data: res.json?.result?.data,
    text: res.text,
  };
}

const create = (transport: Transport, token: string, body: Record<string, unknown>) =>
  call(transport, { path: "/api/commitments", body }, "commitments.create", body, token);

const respond = (transport: Transport, token: string, id: string, body: Record<string, unknown>) =>
  call(
    transport,
    { path: `/api/suggestions/${encodeURIComponent(id)}/respond`, body },
    "suggestions.respond",
    { id, ...body },
    token,
  );

const rowsOf = (userId: string) =>
  h.database.db.select().from(commitments).where(eq(commitments.userId, userId));
const liveOf = (userId: string) =>
  h.database.db
    .select()
    .from(commitments)
    .where(and(eq(commitments.userId, userId), eq(commitments.status, "committed")));

const hoursAfter = (iso: string, hours: number) =>
  new Date(Date.parse(iso) + hours * 3_600_000).toISOString();

let n = 0;
/** A fresh member with their own community and meter in the DT. */
async function member(tag: string) {
  n += 1;
  const sub = `${tag}-${n}`;
  const { community, device } = windows.member(sub);
  return { sub, community, device, token: await h.participant(sub) };
}

describe.each(["rest", "trpc"] as const)("the farming sequence is refused (%s)", (transport) => {
  test("another member's device_id and community_id: the commitment is on the caller's own DT device and community", async () => {
    const victim = await member("victim");
    const farmer = await member("farmer");
    const body = windows.publish(farmer.sub);
    const res = await create(transport, farmer.token, {
      ...body,
      user_id: victim.sub,
      community_id: victim.community,
      device_id: victim.device,
    });
    expect(res.status, res.text).toBe(transport === "rest" ? 201 : 200);
    expect(res.data).toMatchObject({
      user_id: farmer.sub,
      community_id: farmer.community,
      device_id: farmer.device,
    });
    const [row] = await rowsOf(farmer.sub);
    expect(row).toMatchObject({ communityId: farmer.community, deviceId: farmer.device });
    expect(await rowsOf(victim.sub)).toHaveLength(0);
  });

  test("the victim's window (published in another community) → 404 window not found, on create and on accept", async () => {
    const victim = await member("victim");
    const farmer = await member("farmer");
    const theirs = windows.publish(victim.sub);
    const created = await create(transport, farmer.token, {
      ...theirs,
      community_id: victim.community,
      device_id: victim.device,
    });
    expect(created.status, created.text).toBe(404);
    expect(created.detail).toContain("window not found");
    const accepted = await respond(transport, farmer.token, theirs.suggestion_id, {
      response: "accepted",
      period_start: theirs.period_start,
      period_end: theirs.period_end,
    });
    expect(accepted.status, accepted.text).toBe(404);
    expect(await rowsOf(farmer.sub)).toHaveLength(0);
  });

  test("a window that has ended → 409, on create and on accept, nothing stored", async () => {
    const farmer = await member("farmer");
    const ended = windows.publish(farmer.sub, { start: "2026-07-01T05:00:00Z", end: "2026-07-01T08:00:00Z" });
    const created = await create(transport, farmer.token, ended);
    expect(created.status, created.text).toBe(409);
    expect(created.detail).toContain("ended");
    const accepted = await respond(transport, farmer.token, ended.suggestion_id, { response: "accepted" });
    expect(accepted.status, accepted.text).toBe(409);
    expect(accepted.detail).toContain("ended");
    expect(await rowsOf(farmer.sub)).toHaveLength(0);
  });

  test("an overlapping window → 409 naming the live commitment in the way, on create and on accept", async () => {
    const farmer = await member("farmer");
    const held = windows.publish(farmer.sub);
    const overlapping = [1, 2].map(() =>
      windows.publish(farmer.sub, {
        start: hoursAfter(held.period_start, 0.5),
        end: hoursAfter(held.period_end, 1),
      }),
    );
    const first = await create(transport, farmer.token, held);
    const heldId = first.data.id as string;
    expect(heldId, first.text).toBeString();
    const [viaCreate, viaAccept] = overlapping as [typeof held, typeof held];
    const created = await create(transport, farmer.token, viaCreate);
    expect(created.status, created.text).toBe(409);
    expect(created.detail).toContain(`overlaps your live commitment ${heldId}`);
    expect(created.detail).toContain(held.period_start);
    const accepted = await respond(transport, farmer.token, viaAccept.suggestion_id, {
      response: "accepted",
    });
    expect(accepted.status, accepted.text).toBe(409);
    expect(accepted.detail).toContain(`overlaps your live commitment ${heldId}`);
    expect((await liveOf(farmer.sub)).map((r) => r.id)).toEqual([heldId]);
  });

  test("a window id nobody published → 404 'window not found', on create, accept and decline", async () => {
    const farmer = await member("farmer");
    windows.publish(farmer.sub);
    const body = {
      suggestion_id: "w-made-up",
      period_start: "2026-07-02T09:00:00Z",
      period_end: "2026-07-02T10:30:00Z",
    };
    const created = await create(transport, farmer.token, body);
    expect(created.status, created.text).toBe(404);
    expect(created.detail).toContain("window not found");
    for (const response of ["accepted", "declined"]) {
      const answered = await respond(transport, farmer.token, "w-made-up", { response, ...body });
      expect(answered.status, answered.text).toBe(404);
      expect(answered.detail).toContain("window not found");
    }
    expect(await rowsOf(farmer.sub)).toHaveLength(0);
  });

  test("an inflated reward and a two-month window are ignored: the stored commitment has the DT's bounds and estimate", async () => {
    const farmer = await member("farmer");
    const forCreate = windows.publish(farmer.sub, { reward: 12 });
    const forAccept = windows.publish(farmer.sub, { reward: 14 });
    const twoMonths = { period_start: "2026-06-01T00:00:00Z", period_end: "2026-08-01T00:00:00Z" };
    const created = await create(transport, farmer.token, {
      ...forCreate,
      ...twoMonths,
      reward_points_estimated: 1_000_000,
    });
    expect(created.data, created.text).toMatchObject({
      period_start: forCreate.period_start,
      period_end: forCreate.period_end,
      reward_points_estimated: 12,
    });
    const accepted = await respond(transport, farmer.token, forAccept.suggestion_id, {
      response: "accepted",
      reward_points: 1_000_000,
      ...twoMonths,
    });
    expect(accepted.data, accepted.text).toMatchObject({ status: "committed", reward_points_estimated: 14 });
    const rows = await liveOf(farmer.sub);
    expect(
      rows
        .map((r) => [r.periodStart.toISOString(), r.periodEnd.toISOString(), r.rewardPointsEstimated])
        .sort(),
    ).toEqual(
      [
        [forCreate.period_start, forCreate.period_end, 12],
        [forAccept.period_start, forAccept.period_end, 14],
      ].sort(),
    );
  });
});

describe("overlap under concurrency: the database constraint decides", () => {
  test("concurrent accepts of two overlapping windows → exactly one commitment, the other a 409", async () => {
    for (let round = 0; round < 5; round += 1) {
      const farmer = await member("racer");
      const a = windows.publish(farmer.sub);
      const b = windows.publish(farmer.sub, {
        start: hoursAfter(a.period_start, 0.5),
        end: hoursAfter(a.period_end, 0.5),
      });
      const answers = await Promise.all(
        [a, b].map((w) => respond("rest", farmer.token, w.suggestion_id, { response: "accepted" })),
      );
      expect(answers.map((x) => x.status).sort(), answers.map((x) => x.text).join("\n")).toEqual([200, 409]);
      const live = await liveOf(farmer.sub);
      expect(live).toHaveLength(1);
      const loser = answers.find((x) => x.status === 409);
      expect(loser?.detail).toContain(`overlaps your live commitment ${live[0]?.id}`);
    }
  });

  test("concurrent creates of two overlapping windows (REST and tRPC at once) → exactly one commitment", async () => {
    for (let round = 0; round < 5; round += 1) {
      const farmer = await member("racer");
      const a = windows.publish(farmer.sub);
      const b = windows.publish(farmer.sub, {
        start: hoursAfter(a.period_start, -0.5),
        end: hoursAfter(a.period_end, -0.5),
      });
      const answers = await Promise.all([create("rest", farmer.token, a), create("trpc", farmer.token, b)]);
      const statuses = answers.map((x) => x.status);
      expect(
        statuses.filter((s) => s === 409),
        answers.map((x) => x.text).join("\n"),
      ).toHaveLength(1);
      expect(await liveOf(farmer.sub)).toHaveLength(1);
    }
  });
});
