// Targets measured in interleaved rounds (target A, B, C, then again), so that what else the machine
// runs weighs on each of them alike; the median round of each counts. Beside every round the CPU of
// the target's server process, of the PostgreSQL backends of the benchmark database and of the load
// generator (wrk or pgbench), per request in the table.
import {
  type CpuGroups,
  type CpuUsage,
  childNamed,
  postgresBackendOf,
  startCpuAccounting,
  waitForQuiet,
} from "./cpu.ts";
import { fmt } from "./results.ts";
import type { LoadResult } from "./wrk.ts";

export type Target<K extends string> = {
  key: K;
  label: string;
  /** The process answering (its CPU is the "server" group); null when the database answers itself. */
  serverPid: number | null;
  load: (seconds: number) => Promise<LoadResult>;
};
export type Measurement = { load: LoadResult; cpu: CpuUsage };

export type Rounds<K extends string> = {
  /** The machine's busy fraction just before the warm-ups. */
  busyBefore: number;
  rounds: Record<K, Measurement[]>;
  /** The round of `key` with the median req/s. */
  median: (key: K) => Measurement;
};

/**
 * Waits for a quiet machine, warms every target up for `warmupSeconds`, then measures each for `seconds`
 * in `rounds` interleaved rounds. `extraGroups` are CPU groups beside server, postgres and client.
 * A round with failed requests stops the run.
 */
export async function measureInRounds<K extends string>(
  targets: Target<K>[],
  {
    rounds: count,
    seconds,
    warmupSeconds,
    database,
    extraGroups = {},
  }: { rounds: number; seconds: number; warmupSeconds: number; database: string; extraGroups?: CpuGroups },
): Promise<Rounds<K>> {
  const busyBefore = await waitForQuiet();
  for (const target of targets) {
    console.log(`warm-up ${target.key} (${warmupSeconds} s)…`);
    await target.load(warmupSeconds);
  }
  const rounds = Object.fromEntries(targets.map((t) => [t.key, []])) as unknown as Record<K, Measurement[]>;
  for (let round = 1; round <= count; round++) {
    for (const target of targets) {
      const cpu = startCpuAccounting({
        server: (p) => p.pid === target.serverPid,
        postgres: postgresBackendOf(database),
        client: childNamed("wrk", "pgbench"),
        ...extraGroups,
      });
      const result = await target.load(seconds);
      const usage = cpu.stop();
      if (result.errors > 0) throw new Error(`${target.key}: ${result.errors} failed of ${result.requests}`);
      rounds[target.key].push({ load: result, cpu: usage });
      console.log(
        `round ${round} ${target.key}: ${fmt(result.requestsPerSecond)} req/s, p50 ${fmt(result.p50Ms, 2)} ms, p99 ${fmt(result.p99Ms, 2)} ms`,
      );
    }
  }
  const median = (key: K) => {
    const sorted = [...rounds[key]].sort((a, b) => a.load.requestsPerSecond - b.load.requestsPerSecond);
    const m = sorted[Math.floor(sorted.length / 2)];
    if (!m) throw new Error(`no measurement of ${key}`);
    return m;
  };
  return { busyBefore, rounds, median };
}

/** Milliseconds of CPU of all the measured groups together. */
export function sumCpu(groups: Record<string, number>): number {
  return Object.values(groups).reduce((a, b) => a + b, 0);
}

/** `ms` of CPU per request of `m`, three decimals. */
export function perRequest(ms: number | undefined, m: Measurement): string {
  return fmt((ms ?? 0) / m.load.requests, 3);
}

/**
 * A table row of `target`'s median round `m`: label, req/s, every round's req/s, p50, p99, then CPU
 * ms/request of the server, of each of `groups`, and the share of the machine other processes used.
 */
export function roundsRow<K extends string>(
  target: Target<K>,
  m: Measurement,
  all: Measurement[],
  groups: string[],
): string[] {
  return [
    target.label,
    fmt(m.load.requestsPerSecond),
    all.map((r) => fmt(r.load.requestsPerSecond)).join(" / "),
    fmt(m.load.p50Ms, 2),
    fmt(m.load.p99Ms, 2),
    target.serverPid === null ? "–" : perRequest(m.cpu.groups.server, m),
    ...groups.map((g) => perRequest(m.cpu.groups[g], m)),
    fmt((100 * m.cpu.other) / Math.max(1, m.cpu.other + m.cpu.idle + sumCpu(m.cpu.groups)), 0),
  ];
}

/** `2 CPUs` — the cores everything in the run shares. */
export function describeCores(): string {
  const n = navigator.hardwareConcurrency;
  return `${n} CPU${n === 1 ? "" : "s"}`;
}
