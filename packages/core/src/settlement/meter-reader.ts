import type { Logger } from "../log.ts";
import type { DigitalTwin, RawRow } from "../platform/ports.ts";
import type { Window } from "./legacy-baseline.ts";
import { HOUR_MS, hourSlotsOf, tsOf } from "./meter-reading.ts";

// The Digital Twin as one settlement run sees it: every call goes through one bound on concurrency,
// and every hour of a device is fetched at most once per run (baselines of a member's commitments
// overlap day after day). A failed fetch stays failed for the rest of the run, so a broken device
// costs its own rows one attempt, not one per commitment.

/** `rec_settlement_1h` answers at most 24 rows per call. */
const MAX_HOURS_PER_CALL = 24;

/** Run at most `limit` tasks at once, first come first served. */
export function createLimiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  const release = () => {
    active--;
    queue.shift()?.();
  };
  return async (task) => {
    if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      release();
    }
  };
}

export type MeterReader = {
  /** The rows of every whole hour the window touches (callers cut the exact window). */
  rows(community: string, device: string, window: Window): Promise<RawRow[]>;
  /** Any other DT call, under the same bound. */
  call<T>(task: (dt: DigitalTwin) => Promise<T>): Promise<T>;
  /** DT calls started so far. */
  calls(): number;
};

export function createMeterReader(dt: DigitalTwin, concurrency: number, log: Logger): MeterReader {
  const limit = createLimiter(concurrency);
  // device key → hour (ms) → the rows whose ts falls in that hour.
  const hours = new Map<string, Map<number, Promise<RawRow[]>>>();
  let calls = 0;

  const call = <T>(task: (dt: DigitalTwin) => Promise<T>) =>
    limit(() => {
      calls++;
      return task(dt);
    });

  /** Fetch consecutive hours [first, first + n h) in one call and publish each hour's rows. */
  function fetchRun(
    community: string,
    device: string,
    slots: number[],
    known: Map<number, Promise<RawRow[]>>,
  ) {
    const first = slots[0] ?? 0;
    const end = (slots[slots.length - 1] ?? first) + HOUR_MS;
    const answer = call((dt) => dt.settlementHours(community, device, new Date(first), new Date(end))).then(
      (rows) => byHour(rows, community, device),
    );
    for (const slot of slots) {
      const hour = answer.then((grouped) => grouped.get(slot) ?? []);
      // Consumers may not be waiting yet; the failure reaches them when they are.
      hour.catch(() => {});
      known.set(slot, hour);
    }
  }

  function byHour(rows: RawRow[], community: string, device: string): Map<number, RawRow[]> {
    const grouped = new Map<number, RawRow[]>();
    let unparseable = 0;
    for (const row of rows) {
      const at = tsOf(row);
      if (at === null) {
        unparseable++;
        continue;
      }
      const slot = Math.floor(at / HOUR_MS) * HOUR_MS;
      const list = grouped.get(slot);
      if (list) list.push(row);
      else grouped.set(slot, [row]);
    }
    if (unparseable > 0) {
      log.warn("settlement hour with an unparseable ts counts 0", {
        community_id: community,
        device_id: device,
        rows: unparseable,
      });
    }
    return grouped;
  }

  return {
    async rows(community, device, window) {
      const key = `${community}\u0000${device}`;
      const known = hours.get(key) ?? new Map<number, Promise<RawRow[]>>();
      hours.set(key, known);
      const slots = hourSlotsOf(window);
      // Hours nobody asked for yet, fetched in runs of consecutive hours (≤ 24 per call).
      let run: number[] = [];
      for (const slot of slots) {
        const contiguous = run.length > 0 && slot === (run[run.length - 1] ?? 0) + HOUR_MS;
        if (known.has(slot) || !contiguous || run.length === MAX_HOURS_PER_CALL) {
          if (run.length > 0) fetchRun(community, device, run, known);
          run = [];
        }
        if (!known.has(slot)) run.push(slot);
      }
      if (run.length > 0) fetchRun(community, device, run, known);
      const found = await Promise.all(slots.map((slot) => known.get(slot) ?? Promise.resolve([])));
      return found.flat();
    },
    call,
    calls: () => calls,
  };
}
