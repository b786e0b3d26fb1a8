// The simulated clock of `bun run dev`: real time plus an offset the demo moves forward, so a
// whole day (accept in the morning, reminder before the window, settlement after midnight) runs
// in seconds. Only the domain's `now` follows it; token lifetimes and timeouts stay on real time.
// The offset persists beside the database: the simulated days the database remembers stay past.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

const STATE_FILE = "dev-clock.json";

export type DevClock = {
  now(): Date;
  offsetMs(): number;
  /** Moves simulated time to `at` (forward or back) and persists the offset. */
  set(at: Date): Promise<void>;
};

export async function createDevClock(dataDir: string | null): Promise<DevClock> {
  const file = dataDir === null ? null : join(dataDir, STATE_FILE);
  let offset = file ? await readOffset(file) : 0;
  return {
    now: () => new Date(Date.now() + offset),
    offsetMs: () => offset,
    async set(at) {
      offset = at.getTime() - Date.now();
      if (file) {
        await mkdir(dataDir ?? ".", { recursive: true });
        await writeFile(file, `${JSON.stringify({ offset_ms: offset })}\n`);
      }
    },
  };
}

async function readOffset(file: string): Promise<number> {
  try {
    const value = (JSON.parse(await readFile(file, "utf8")) as { offset_ms?: unknown }).offset_ms;
    return typeof value === "number" && Number.isFinite(value) ? value : 0;
  } catch {
    return 0;
  }
}
