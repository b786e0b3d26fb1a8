import { sql } from "drizzle-orm";
import type { Ctx } from "../context.ts";
import { type RowsReader, rowsOf } from "../db/rows.ts";
import { meterChunks } from "../db/schema.ts";
import type { DigitalTwin, RawRow } from "../platform/ports.ts";
import { parseInstant } from "../time.ts";
import type { ReadingAt } from "./baseline.ts";
import { MICRO_PER_KWH } from "./points.ts";

// Metered consumption as settlement reads it: our own store of the Digital Twin's readings, one row
// per fetch unit ("chunk": CHUNK_SLOTS consecutive reading intervals, what one `rec_settlement_1h`
// call answers at most). A chunk that was already older than the restatement horizon when it was
// fetched is final: it is never asked for again, so a 90-day look-back costs a device 90 calls once,
// not 90 calls per commitment. Younger chunks are fetched again once per settlement run, so late and
// corrected readings are seen. A reading, once seen, is never forgotten: a later answer without it
// keeps the old value; a later answer with another value replaces it (a correction).

/** `rec_settlement_1h` is hourly; nothing else in settlement assumes it. */
export const READING_INTERVAL_MS = 3_600_000;
/** `rec_settlement_1h` answers at most 24 rows per call. */
export const CHUNK_SLOTS = 24;

/** Every DT call of one run goes through one bound on concurrency, and is counted. */
export type DtGate = { call<T>(task: (dt: DigitalTwin) => Promise<T>): Promise<T>; calls(): number };

/** Run at most `limit` tasks at once, first come first served. */
export function createLimiter(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async (task) => {
    if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}

export function createDtGate(dt: DigitalTwin, concurrency: number): DtGate {
  const limit = createLimiter(concurrency);
  let calls = 0;
  return {
    call: (task) =>
      limit(() => {
        calls++;
        return task(dt);
      }),
    calls: () => calls,
  };
}

/** The gate of a store that only loads (`load`): asking the DT through it is a bug. */
export const LOAD_ONLY: DtGate = {
  call: () => Promise.reject(new Error("this meter store only loads stored readings")),
  calls: () => 0,
};

/**
 * Claim the refresh of one chunk: true when this caller is the one to ask the DT for it now. In one
 * statement the chunk's `fetched_at` moves to `now` when the chunk is not stored yet (a placeholder
 * without readings is stored) or is not final and was last asked for at least `minAgeMs` ago. The
 * database decides, so across every API replica at most one caller per `minAgeMs` wins — whether the
 * DT then answers or not (an outage is not asked again sooner either). `fetched_at` is therefore
 * when the chunk was last asked for, not proof that it holds readings up to then.
 */
export async function claimRefresh(
  ctx: Ctx,
  {
    device,
    userId,
    start,
    now,
    minAgeMs,
    intervalMs = READING_INTERVAL_MS,
    slots = CHUNK_SLOTS,
  }: {
    device: string;
    userId: string;
    start: number;
    now: Date;
    minAgeMs: number;
    intervalMs?: number;
    slots?: number;
  },
): Promise<boolean> {
  const rows = await rowsOf<{ claimed: number }>(
    ctx.db,
    sql`insert into ${meterChunks} as c (device_id, chunk_start, user_id, interval_seconds, micro_kwh, fetched_at, final)
        values (${device}, ${new Date(start).toISOString()}::timestamptz, ${userId}, ${intervalMs / 1000},
          array_fill(null::bigint, array[${slots}::int]), ${now.toISOString()}::timestamptz, false)
        on conflict (device_id, chunk_start) do update set fetched_at = excluded.fetched_at
          where not c.final and c.fetched_at <= ${new Date(now.getTime() - minAgeMs).toISOString()}::timestamptz
        returning 1 as claimed`,
  );
  return rows.length > 0;
}

/** Chunk fetches of one device in flight at once. */
const PER_DEVICE = 4;

/** What one commitment needs read: the device's readings of the intervals starting at `at` (ms). */
export type MeterNeed = { userId: string; community: string; device: string; at: readonly number[] };

export type MeterStore = {
  /**
   * Make the readings of every need available to `readingAt`: loaded from the store, fetched from
   * the DT where missing or not final (once per run), written back. Returns the devices whose
   * fetch failed, with the error (their rows must wait).
   */
  prepare(tx: Ctx, needs: MeterNeed[]): Promise<Map<string, unknown>>;
  /**
   * Make the stored readings of every need available to `readingAt`, without asking the DT (`read`:
   * preparedRowsOf on a hot path, with the root handle).
   */
  load(tx: Ctx, needs: Pick<MeterNeed, "device" | "at">[], read?: RowsReader): Promise<void>;
  readingAt(device: string): ReadingAt;
  /** Forget what the last prepare loaded (between batches). */
  release(): void;
};

type Chunk = { values: (number | null)[]; final: boolean };

export function createMeterStore({
  gate,
  now,
  horizonMs,
  intervalMs = READING_INTERVAL_MS,
  slots = CHUNK_SLOTS,
}: {
  gate: DtGate;
  now: Date;
  horizonMs: number;
  intervalMs?: number;
  slots?: number;
}): MeterStore {
  const chunkMs = intervalMs * slots;
  /** device → chunk start → values (this batch). */
  let loaded = new Map<string, Map<number, Chunk>>();
  /** `device|start` of chunks fetched by this run: a run asks the DT for a chunk once. */
  const fetched = new Set<string>();
  const failed = new Map<string, unknown>();

  async function prepare(tx: Ctx, needs: MeterNeed[]): Promise<Map<string, unknown>> {
    const wanted = new Map<string, { need: MeterNeed; starts: Set<number> }>();
    for (const need of needs) {
      const entry = wanted.get(need.device) ?? { need, starts: new Set<number>() };
      for (const at of need.at) entry.starts.add(Math.floor(at / chunkMs) * chunkMs);
      wanted.set(need.device, entry);
    }
    const devices = [...wanted.keys()].filter((d) => !failed.has(d));
    if (devices.length > 0) await load(tx, devices, wanted);

    const writes: { device: string; userId: string; start: number; chunk: Chunk }[] = [];
    const fetchOne = async (need: MeterNeed, start: number) => {
      const device = need.device;
      const known = loaded.get(device)?.get(start);
      const key = `${device}|${start}`;
      if (failed.has(device) || (known && (known.final || fetched.has(key)))) return;
      try {
        const rows = await gate.call((dt) =>
          dt.settlementHours(need.community, device, new Date(start), new Date(start + chunkMs)),
        );
        fetched.add(key);
        const chunk = {
          values: mergeReadings(known?.values, readingsOf(rows, start, intervalMs, slots)),
          final: now.getTime() >= start + chunkMs + horizonMs,
        };
        chunksOf(device).set(start, chunk);
        writes.push({ device, userId: need.userId, start, chunk });
      } catch (error) {
        failed.set(device, error);
      }
    };
    // A few chunks of one device at a time (devices in parallel): a failing device stops after the
    // calls already under way, so it costs its own rows a handful of attempts per run, not one per chunk.
    await Promise.all(
      devices.map(async (device) => {
        const entry = wanted.get(device);
        if (!entry) return;
        const queue = [...entry.starts].sort((x, y) => y - x);
        const worker = async () => {
          for (let start = queue.pop(); start !== undefined && !failed.has(device); start = queue.pop()) {
            await fetchOne(entry.need, start);
          }
        };
        await Promise.all(Array.from({ length: PER_DEVICE }, worker));
      }),
    );
    await store(
      tx,
      writes.filter((w) => !failed.has(w.device)),
    );
    return new Map(devices.flatMap((d) => (failed.has(d) ? [[d, failed.get(d)] as const] : [])));
  }

  function chunksOf(device: string): Map<number, Chunk> {
    let chunks = loaded.get(device);
    if (!chunks) {
      chunks = new Map();
      loaded.set(device, chunks);
    }
    return chunks;
  }

  async function load(
    tx: Ctx,
    devices: string[],
    wanted: Map<string, { starts: Set<number> }>,
    read: RowsReader = rowsOf,
  ): Promise<void> {
    const pairs = devices.flatMap((device) =>
      [...(wanted.get(device)?.starts ?? [])]
        .filter((start) => !loaded.get(device)?.has(start))
        .map((start) => ({ device_id: device, chunk_start: new Date(start).toISOString() })),
    );
    if (pairs.length === 0) return;
    const columns = sql`c.device_id, (extract(epoch from c.chunk_start) * 1000)::float8 as start,
      array_to_json(c.micro_kwh) as values, c.final`;
    const [single] = devices;
    // One device (a member's targets, a commitment's progress): one index range of its key, with a
    // small parameter; several (a settlement batch): the pairs as one JSON parameter.
    const rows = await read<{
      device_id: string;
      start: number;
      values: (number | null)[];
      final: boolean;
    }>(
      tx.db,
      devices.length === 1 && single !== undefined
        ? sql`select ${columns} from ${meterChunks} c
            where c.device_id = ${single}
              and c.chunk_start = any(${sql.param(pairs.map((p) => p.chunk_start))}::text[]::timestamptz[])`
        : sql`select ${columns}
            from json_to_recordset(${JSON.stringify(pairs)}::json) as v(device_id text, chunk_start timestamptz)
            join ${meterChunks} c on c.device_id = v.device_id and c.chunk_start = v.chunk_start`,
    );
    for (const row of rows) {
      chunksOf(row.device_id).set(Math.round(row.start), { values: row.values, final: row.final });
    }
  }

  /** Upsert in key order, so two runs writing the same chunks never wait on each other in a cycle. */
  async function store(
    tx: Ctx,
    writes: { device: string; userId: string; start: number; chunk: Chunk }[],
  ): Promise<void> {
    writes.sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : a.start - b.start));
    const fetchedAt = now.toISOString();
    for (let i = 0; i < writes.length; i += 2000) {
      const rows = writes.slice(i, i + 2000).map((w) => ({
        device_id: w.device,
        chunk_start: new Date(w.start).toISOString(),
        user_id: w.userId,
        interval_seconds: intervalMs / 1000,
        micro_kwh: w.chunk.values,
        fetched_at: fetchedAt,
        final: w.chunk.final,
      }));
      await tx.db.execute(sql`
        insert into ${meterChunks} (device_id, chunk_start, user_id, interval_seconds, micro_kwh, fetched_at, final)
        select * from json_to_recordset(${JSON.stringify(rows)}::json) as r(device_id text,
          chunk_start timestamptz, user_id text, interval_seconds int, micro_kwh bigint[], fetched_at timestamptz,
          final boolean)
        on conflict (device_id, chunk_start) do update set user_id = excluded.user_id,
          micro_kwh = excluded.micro_kwh, fetched_at = excluded.fetched_at, final = excluded.final`);
    }
  }

  return {
    prepare,
    async load(tx, needs, read) {
      const wanted = new Map<string, { starts: Set<number> }>();
      for (const need of needs) {
        const entry = wanted.get(need.device) ?? { starts: new Set<number>() };
        for (const at of need.at) entry.starts.add(Math.floor(at / chunkMs) * chunkMs);
        wanted.set(need.device, entry);
      }
      if (wanted.size > 0) await load(tx, [...wanted.keys()], wanted, read);
    },
    readingAt(device) {
      const chunks = loaded.get(device);
      return (at) => {
        const start = Math.floor(at / chunkMs) * chunkMs;
        const offset = at - start;
        if (offset % intervalMs !== 0) return null;
        return chunks?.get(start)?.values[offset / intervalMs] ?? null;
      };
    },
    release() {
      loaded = new Map();
    },
  };
}

/**
 * The DT's rows of one chunk → one value per interval, whole µkWh; null where no usable row came.
 * A row whose `ts` or `consumption_kwh` will not parse (or is negative) is not a reading. Two rows
 * for one interval: the larger counts, so the result never depends on the order rows arrive in.
 */
export function readingsOf(
  rows: RawRow[],
  start: number,
  intervalMs: number,
  slots: number,
): (number | null)[] {
  const values: (number | null)[] = new Array(slots).fill(null);
  for (const row of rows) {
    const at = typeof row.ts === "string" ? parseInstant(row.ts)?.getTime() : undefined;
    const kwh = microKwhOf(row.consumption_kwh);
    if (at === undefined || kwh === null) continue;
    const slot = Math.floor((at - start) / intervalMs);
    if (slot < 0 || slot >= slots) continue;
    values[slot] = Math.max(values[slot] ?? 0, kwh);
  }
  return values;
}

/** A fresh answer over what was stored: a value replaces, a gap keeps what was seen before. */
export function mergeReadings(
  stored: readonly (number | null)[] | undefined,
  fresh: readonly (number | null)[],
): (number | null)[] {
  return fresh.map((value, i) => value ?? stored?.[i] ?? null);
}

/** kWh (number or numeric string) → whole µkWh; null when it is not a finite number ≥ 0. */
export function microKwhOf(value: unknown): number | null {
  const n =
    typeof value === "number"
      ? value
      : typeof value === "string" && value.trim() !== ""
        ? Number(value)
        : Number.NaN;
  if (!Number.isFinite(n) || n < 0) return null;
  return Math.round(n * MICRO_PER_KWH);
}
