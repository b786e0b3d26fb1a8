import type { Ctx } from "../context.ts";
import type { CommitmentRow } from "../db/schema.ts";
import { UpstreamError } from "../errors.ts";
import { messageOf } from "../lib/message-of.ts";
import type { RawRow } from "../platform/ports.ts";
import { coerceNumber } from "../suggestions/dt-rows.ts";
import { parseInstant } from "../time.ts";
import type { HeldAt, ReadingAt } from "./baseline.ts";
import { type Commitment, type Context, readingsNeeded } from "./decide.ts";
import type { DtGate, MeterStore } from "./meter-store.ts";
import type { CapReferences } from "./points.ts";
import { capReferences, type HeldWindow, heldWindows, type WeekOutcome, weekOutcomes } from "./queries.ts";
import { type WeekMark, weekMarkOf } from "./streak.ts";

// Everything settlement needs to know about a batch of commitments, gathered at once: the member's
// community and device (the DT, with our service token, for rows that lack them), the readings (our
// store, refreshed from the DT), the measured forecast of the window, and the member's history
// (their other windows, their weeks, their and their community's recent qualifying windows).

const DAY_MS = 86_400_000;

/** One settlement run's shared state: every batch reuses the same caches and DT bound. */
export type Run = Context & {
  now: Date;
  deadlineMs: number;
  horizonMs: number;
  gate: DtGate;
  meters: MeterStore;
  /** Per member, resolved once per run (service token). */
  ids: Map<string, Promise<Ids>>;
  /** Per community and window, read once per run. */
  forecasts: Map<string, Promise<Forecast>>;
  /** Log a failing member or device once per run, not once per row. */
  warned: Set<string>;
};

export type Ids = { communityId: string | null; deviceId: string | null };
export type Forecast = { intervals: number; surplusIntervals: number } | null;

export type Gathered =
  | { kind: "failed"; error: unknown; ids: Ids | null }
  | { kind: "no_device"; ids: Ids }
  | { kind: "no_community"; ids: Ids }
  /** `forecast` "failed": the DT did not answer; the row waits for it until the deadline. */
  | { kind: "ready"; ids: Ids; readingAt: ReadingAt; forecast: Forecast | "failed" };

export type History = {
  /** The member's held windows, by member: baseline days avoid them. */
  held: Map<string, HeldWindow[]>;
  /** The member's weeks so far, by member (Monday → outcomes in it). */
  weeks: Map<string, Map<string, string[]>>;
  caps: Map<string, CapReferences>;
};

/** Gather the evidence of a batch (DT calls bounded by the run's gate; DB reads in `tx`). */
export async function gather(
  tx: Ctx,
  run: Run,
  rows: CommitmentRow[],
): Promise<{ gathered: Map<string, Gathered>; history: History }> {
  type Resolution = { ok: true; ids: Ids } | { ok: false; error: unknown };
  const resolved = new Map<string, Resolution>(
    await Promise.all(
      rows.map(async (row): Promise<[string, Resolution]> => {
        try {
          return [row.id, { ok: true, ids: await idsOf(run, row) }];
        } catch (error) {
          warnOnce(tx, run, `member:${row.userId}`, "settlement could not resolve the member", {
            user_id: row.userId,
            error: messageOf(error),
          });
          return [row.id, { ok: false, error }];
        }
      }),
    ),
  );
  const needs = rows.flatMap((row) => {
    const r = resolved.get(row.id);
    if (!r?.ok || !r.ids.deviceId || !r.ids.communityId) return [];
    return [
      {
        userId: row.userId,
        community: r.ids.communityId,
        device: r.ids.deviceId,
        at: readingsNeeded(commitmentOf(row), run),
      },
    ];
  });
  const failedDevices = await run.meters.prepare(tx, needs);

  const gathered = new Map<string, Gathered>();
  await Promise.all(
    rows.map(async (row) => {
      const r = resolved.get(row.id);
      if (!r?.ok) {
        gathered.set(row.id, { kind: "failed", error: r?.error, ids: null });
        return;
      }
      const { ids } = r;
      if (!ids.deviceId) return void gathered.set(row.id, { kind: "no_device", ids });
      if (!ids.communityId) return void gathered.set(row.id, { kind: "no_community", ids });
      const failure = failedDevices.get(ids.deviceId);
      if (failure !== undefined) {
        warnOnce(tx, run, `device:${ids.deviceId}`, "settlement could not read the meter", {
          community_id: ids.communityId,
          device_id: ids.deviceId,
          error: messageOf(failure),
        });
        return void gathered.set(row.id, { kind: "failed", error: failure, ids });
      }
      const forecast = await forecastOf(run, ids.communityId, row).catch((error: unknown) => {
        warnOnce(tx, run, `forecast:${ids.communityId}`, "settlement could not read the forecast", {
          community_id: ids.communityId,
          error: messageOf(error),
        });
        return "failed" as const;
      });
      gathered.set(row.id, { kind: "ready", ids, readingAt: run.meters.readingAt(ids.deviceId), forecast });
    }),
  );
  return { gathered, history: await historyOf(tx, run, rows, resolved) };
}

async function historyOf(
  tx: Ctx,
  run: Run,
  rows: CommitmentRow[],
  resolved: Map<string, { ok: true; ids: Ids } | { ok: false; error: unknown }>,
): Promise<History> {
  const members = [...new Set(rows.map((r) => r.userId))];
  const from = new Date(
    Math.min(...rows.map((r) => r.periodStart.getTime())) - (run.method.baseline.lookbackDays + 1) * DAY_MS,
  );
  const to = new Date(Math.max(...rows.map((r) => r.periodEnd.getTime())));
  const [held, outcomes, caps] = await Promise.all([
    heldWindows(tx, members, from, to),
    weekOutcomes(tx, members, run.clock.timeZone, to),
    capReferences(
      tx,
      rows.map((r) => {
        const ids = resolved.get(r.id);
        return {
          id: r.id,
          userId: r.userId,
          communityId: ids?.ok ? ids.ids.communityId : r.communityId,
          start: r.periodStart,
        };
      }),
      run.method.cap.lookbackDays,
    ),
  ]);
  return { held: groupBy(held, (h) => h.userId), weeks: weeksByMember(outcomes), caps };
}

/** Member → week (Monday) → the outcomes of their commitments that started in it. */
export function weeksByMember(outcomes: WeekOutcome[]): Map<string, Map<string, string[]>> {
  const weeks = new Map<string, Map<string, string[]>>();
  for (const o of outcomes) {
    const member = weeks.get(o.userId) ?? new Map<string, string[]>();
    member.set(o.week, [...(member.get(o.week) ?? []), o.outcome]);
    weeks.set(o.userId, member);
  }
  return weeks;
}

/** A claimed row as decide() sees it. */
export function commitmentOf(row: CommitmentRow): Commitment {
  return {
    id: row.id,
    periodStart: row.periodStart,
    periodEnd: row.periodEnd,
    rewardPointsEstimated: row.rewardPointsEstimated,
    noticeAt: row.noticeAt ?? row.committedAt,
  };
}

/** The member's weeks as the streak reads them (a week's outcomes → its mark). */
export function weekMarks(weeks: Map<string, string[]> | undefined): Map<string, WeekMark> {
  const marks = new Map<string, WeekMark>();
  for (const [week, outcomes] of weeks ?? []) {
    const mark = weekMarkOf(outcomes);
    if (mark) marks.set(week, mark);
  }
  return marks;
}

/** Whether any of `windows` other than `except` overlaps [start, end) — bucketed by day, for speed. */
export function heldAtOf(windows: HeldWindow[], except: string): HeldAt {
  const byDay = new Map<number, HeldWindow[]>();
  for (const w of windows) {
    if (w.id === except) continue;
    for (let day = Math.floor(w.start / DAY_MS); day <= Math.floor((w.end - 1) / DAY_MS); day++) {
      byDay.set(day, [...(byDay.get(day) ?? []), w]);
    }
  }
  return (start, end) => {
    for (let day = Math.floor(start / DAY_MS); day <= Math.floor((end - 1) / DAY_MS); day++) {
      if (byDay.get(day)?.some((w) => w.start < end && start < w.end)) return true;
    }
    return false;
  };
}

/** The row's community and device, asking the DT (service token) for whichever is missing. */
function idsOf(run: Run, row: CommitmentRow): Promise<Ids> {
  if (row.communityId && row.deviceId) {
    return Promise.resolve({ communityId: row.communityId, deviceId: row.deviceId });
  }
  return memo(run.ids, row.userId, async () => {
    const [membership, device] = await Promise.all([
      run.gate.call((dt) => dt.membership({ kind: "service" }, row.userId)),
      run.gate.call((dt) => dt.deviceOf({ kind: "service" }, row.userId)),
    ]);
    return { communityId: membership?.community.key ?? null, deviceId: device };
  }).then((found) => ({
    communityId: row.communityId ?? found.communityId,
    deviceId: row.deviceId ?? found.deviceId,
  }));
}

/** The window's measured forecast intervals (`period = "actual"`) and how many had a surplus. */
function forecastOf(run: Run, community: string, row: CommitmentRow): Promise<Forecast> {
  const start = row.periodStart.getTime();
  const end = row.periodEnd.getTime();
  return memo(run.forecasts, `${community}|${start}|${end}`, async () =>
    measuredSurplus(
      await run.gate.call((dt) => dt.forecast(community, row.periodStart, row.periodEnd)),
      start,
      end,
    ),
  );
}

/** Forecast rows with `period = "actual"` inside [start, end), one per `datetime`; prediction > 0 is a surplus. */
export function measuredSurplus(rows: RawRow[], start: number, end: number): Forecast {
  const seen = new Map<number, boolean>();
  for (const row of rows) {
    if (row.period !== "actual" || typeof row.datetime !== "string") continue;
    const at = parseInstant(row.datetime)?.getTime();
    const kw = coerceNumber(row.prediction);
    if (at === undefined || kw === null || at < start || at >= end || seen.has(at)) continue;
    seen.set(at, kw > 0);
  }
  if (seen.size === 0) return null;
  return { intervals: seen.size, surplusIntervals: [...seen.values()].filter(Boolean).length };
}

/** A 4xx other than auth or throttling: asking again will not change the answer. */
export function isPermanent(error: unknown): boolean {
  if (!(error instanceof UpstreamError) || error.status === undefined) return false;
  return error.status >= 400 && error.status < 500 && ![401, 403, 408, 429].includes(error.status);
}

function memo<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let found = cache.get(key);
  if (!found) {
    found = load();
    found.catch(() => {});
    cache.set(key, found);
  }
  return found;
}

export function groupBy<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return groups;
}

function warnOnce(tx: Ctx, run: Run, key: string, msg: string, fields: Record<string, unknown>): void {
  if (run.warned.has(key)) return;
  run.warned.add(key);
  tx.log.warn(msg, fields);
}
