import { expect } from "bun:test";
import { commitments, type NewCommitmentRow } from "@celine/core/db";
import type { Harness, Json } from "./harness.ts";

// Shared test fixtures for the route suites: scopes, valid bodies, seeding rows that no route can
// produce (rejected, settled at a given time), a settable clock, and the problem+json assertion.

/** Creating the first harness of a process builds the PGlite template (seconds on a loaded machine). */
export const HOOK_TIMEOUT = 60_000;

export const SCOPE = {
  read: "flexibility.commitments.read",
  write: "flexibility.commitments.write",
  export: "flexibility.commitments.export",
  admin: "flexibility.admin",
  legacyRead: "flexibility.read",
  legacyWrite: "flexibility.write",
} as const;

/** The CommitmentOut keys PLATFORM §1 says to keep, all present on every item. */
export const WIRE_KEYS = [
  "id",
  "user_id",
  "suggestion_id",
  "suggestion_type",
  "community_id",
  "device_id",
  "period_start",
  "period_end",
  "committed_at",
  "settled_at",
  "reminded_at",
  "status",
  "reward_points_estimated",
  "reward_points_actual",
] as const;

export const UNKNOWN_ID = "0b0e5ad5-6c1e-4a61-9a2a-2d1f3b8f3b10";

/** A clock tests move by hand; hand `now` to createHarness({ now }). */
export function createClock(start = "2026-07-02T10:00:00.000Z") {
  let current = new Date(start).getTime();
  return {
    now: () => new Date(current),
    set(at: string | Date) {
      current = new Date(at).getTime();
    },
    advance(ms: number) {
      current += ms;
    },
  };
}

let counter = 0;
/**
 * A create body that passes validation, with a fresh window id and fixed bounds (2026-07-02
 * 11:00–14:00 UTC). A participant's create needs a window the DT publishes (published-windows.ts);
 * an operator's, its parties (operatorBody).
 */
export function commitmentBody<T extends Record<string, unknown> = Record<never, never>>(
  overrides: T = {} as T,
): { suggestion_id: string; period_start: string; period_end: string } & T {
  counter += 1;
  return {
    suggestion_id: `window-${counter}-${crypto.randomUUID().slice(0, 8)}`,
    period_start: "2026-07-02T11:00:00Z",
    period_end: "2026-07-02T14:00:00Z",
    ...overrides,
  };
}

let hours = 0;
/**
 * A window no other call answers: a fresh hour, 2 h after the previous one, counted from `from`
 * (default: 2026-08-01). A member's live commitments may not overlap, so seeds of several live rows
 * of one member need one each.
 */
export function separateWindow(from: Date = new Date("2026-08-01T00:00:00Z")): {
  periodStart: Date;
  periodEnd: Date;
} {
  hours += 2;
  const start = from.getTime() + hours * 3_600_000;
  return { periodStart: new Date(start), periodEnd: new Date(start + 3_600_000) };
}

/**
 * An operator's body (flexibility.admin records for a member): user, device and community named,
 * a separate hour starting after `now` (windows an operator records ended at most 7 days ago).
 */
export function operatorBody<T extends Record<string, unknown> = Record<never, never>>(
  userId: string,
  now: Date = new Date(),
  overrides: T = {} as T,
) {
  const { periodStart, periodEnd } = separateWindow(now);
  return commitmentBody({
    user_id: userId,
    device_id: `meter-${userId}`,
    community_id: `rec-${userId}`,
    period_start: periodStart.toISOString(),
    period_end: periodEnd.toISOString(),
    ...overrides,
  });
}

/** Insert a row directly (tests only): for states and timestamps no route produces on demand. */
export async function seedCommitment(
  h: Pick<Harness, "database">,
  row: Partial<NewCommitmentRow> & { userId: string },
): Promise<{ id: string }> {
  counter += 1;
  const [inserted] = await h.database.db
    .insert(commitments)
    .values({
      suggestionId: `seed-${counter}-${crypto.randomUUID().slice(0, 8)}`,
      periodStart: new Date("2026-07-02T11:00:00Z"),
      periodEnd: new Date("2026-07-02T14:00:00Z"),
      ...row,
    })
    .returning({ id: commitments.id });
  if (!inserted) throw new Error("seed insert returned no row");
  return inserted;
}

type Answer = { status: number; headers: Headers; text: string; json: Json };

/** An RFC 9457 answer with the status and a string `detail` (what the existing clients read). */
export function expectProblem(res: Answer, status: number, detail?: string | RegExp): void {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get("content-type"), res.text).toContain("application/problem+json");
  expect(typeof res.json?.detail, res.text).toBe("string");
  expect(res.json.status, res.text).toBe(status);
  if (typeof detail === "string") expect(res.json.detail, res.text).toContain(detail);
  else if (detail) expect(res.json.detail, res.text).toMatch(detail);
}

/** A 422 whose `errors` name `field` and whose `detail` mentions it. */
export function expectFieldError(res: Answer, field: string): void {
  expectProblem(res, 422, field);
  const paths = (res.json.errors ?? []).map((e: { path: string }) => e.path);
  expect(paths, res.text).toContain(field);
}
