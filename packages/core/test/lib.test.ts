import { describe, expect, test } from "bun:test";
import { backoffDelay } from "../src/lib/backoff.ts";
import { messageOf } from "../src/lib/message-of.ts";
import { settlesWithin, TimeoutError, withTimeout } from "../src/lib/with-timeout.ts";

describe("backoffDelay", () => {
  const exact = { baseMs: 1_000, maxMs: 8_000 };
  test.each([
    [0, 1_000, "no failure yet counts as the first"],
    [1, 1_000, "the first failure waits the base"],
    [2, 2_000, "doubles"],
    [4, 8_000, "reaches the ceiling"],
    [9, 8_000, "stays at the ceiling"],
    [5_000, 8_000, "a very long outage does not overflow"],
  ])("%d failures → %d ms (%s)", (failures, ms) => {
    expect(backoffDelay(failures, exact)).toBe(ms);
  });

  test("full jitter stays in [0, step]; equal jitter in [step/2, step]", () => {
    for (let i = 0; i < 200; i += 1) {
      const full = backoffDelay(3, { ...exact, jitter: "full" });
      const equal = backoffDelay(3, { ...exact, jitter: "equal" });
      expect(full).toBeGreaterThanOrEqual(0);
      expect(full).toBeLessThanOrEqual(4_000);
      expect(equal).toBeGreaterThanOrEqual(2_000);
      expect(equal).toBeLessThanOrEqual(4_000);
    }
  });

  test("a zero base never waits (not NaN)", () => {
    expect(backoffDelay(10_000, { baseMs: 0, maxMs: 100, jitter: "equal" })).toBe(0);
  });
});

describe("withTimeout", () => {
  test("passes the work's value and its rejection through", async () => {
    expect(await withTimeout(Promise.resolve(7), 50, "work")).toBe(7);
    await expect(withTimeout(Promise.reject(new Error("boom")), 50, "work")).rejects.toThrow("boom");
  });

  test("rejects with a TimeoutError naming what and how long", async () => {
    const error = await withTimeout(new Promise(() => {}), 20, "mqtt publish").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as Error).message).toBe("mqtt publish timed out after 20 ms");
  });

  test("settlesWithin: true when the work settles either way in time, false after the deadline", async () => {
    expect(await settlesWithin(Promise.resolve(), 50)).toBe(true);
    expect(await settlesWithin(Promise.reject(new Error("boom")), 50)).toBe(true);
    expect(await settlesWithin(new Promise(() => {}), 20)).toBe(false);
  });
});

describe("messageOf", () => {
  test("an Error's message, anything else as a string", () => {
    expect(messageOf(new TypeError("bad"))).toBe("bad");
    expect(messageOf("plain")).toBe("plain");
    expect(messageOf(42)).toBe("42");
  });
});
