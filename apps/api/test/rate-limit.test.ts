import { describe, expect, test } from "bun:test";
import { createRateLimiter } from "../src/lib/rate-limit.ts";

// The calendar feed's limiter on its own, on a clock moved by hand (calendar.test.ts sees it as 429s).

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe("createRateLimiter", () => {
  test("a burst, then one request per refill interval; the wait is whole seconds until the next", () => {
    const c = clock();
    const limiter = createRateLimiter({ burst: 3, perMinute: 2 }, c.now);
    expect([1, 2, 3].map(() => limiter.take("feed"))).toEqual([0, 0, 0]);
    expect(limiter.take("feed")).toBe(30);
    c.advance(10_000);
    expect(limiter.take("feed")).toBe(20);
    c.advance(20_000);
    expect(limiter.take("feed")).toBe(0);
    expect(limiter.take("feed")).toBe(30);
  });

  test("keys are independent, and an idle key refills up to the burst, not past it", () => {
    const c = clock();
    const limiter = createRateLimiter({ burst: 2, perMinute: 60 }, c.now);
    expect([limiter.take("a"), limiter.take("a"), limiter.take("a")]).toEqual([0, 0, 1]);
    expect(limiter.take("b")).toBe(0);
    c.advance(3_600_000);
    expect([limiter.take("a"), limiter.take("a"), limiter.take("a")]).toEqual([0, 0, 1]);
  });

  test("refused requests cost nothing: the wait shrinks as time passes, never grows", () => {
    const c = clock();
    const limiter = createRateLimiter({ burst: 1, perMinute: 1 }, c.now);
    expect(limiter.take("k")).toBe(0);
    const waits = [0, 1, 2, 3].map(() => {
      c.advance(15_000);
      return limiter.take("k");
    });
    expect(waits).toEqual([45, 30, 15, 0]);
  });

  test("at most 10,000 keys are kept: the least recently used is forgotten (and starts full again)", () => {
    const limiter = createRateLimiter({ burst: 1, perMinute: 1 }, () => 0);
    expect(limiter.take("first")).toBe(0);
    expect(limiter.take("first")).toBeGreaterThan(0);
    for (let i = 0; i < 10_000; i++) limiter.take(`key-${i}`);
    expect(limiter.take("first")).toBe(0);
  });
});
