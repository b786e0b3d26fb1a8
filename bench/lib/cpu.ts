// Where the CPU goes during a measurement: ticks of the processes under test (by pid, command
// name, or a PostgreSQL backend of one database), of everything else on the machine, and idle.
// Read from /proc, sampled so processes that start and exit inside the window (pgbench's backends)
// are counted; a process loses at most one interval of ticks when it exits between samples.
import { readdirSync, readFileSync } from "node:fs";

/** Linux USER_HZ: /proc times are in 1/100 s on every architecture Bun supports. */
const TICK_MS = 10;
const SAMPLE_MS = 100;

export type ProcessInfo = { pid: number; ppid: number; comm: string; cmdline: string };
export type CpuGroups = Record<string, (p: ProcessInfo) => boolean>;
/** Milliseconds of CPU per group, plus `other` (the rest of the machine) and `idle`, and the window. */
export type CpuUsage = { groups: Record<string, number>; other: number; idle: number; wallMs: number };

type Seen = { group: string; base: number; last: number };

export function startCpuAccounting(groups: CpuGroups) {
  const bootTicks = readUptimeTicks();
  const machine0 = readMachine();
  const started = performance.now();
  const seen = new Map<number, Seen>();
  const sample = () => {
    for (const entry of readdirSync("/proc")) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      const stat = readStat(pid);
      if (!stat) continue;
      let known = seen.get(pid);
      if (!known) {
        const info = { pid, ppid: stat.ppid, comm: stat.comm, cmdline: readCmdline(pid) };
        const group = Object.keys(groups).find((g) => groups[g]?.(info));
        if (!group) continue;
        // A process born inside the window counts from zero; an older one from this first reading.
        const bornInside = stat.startTicks >= bootTicks;
        known = { group, base: bornInside ? 0 : stat.ticks, last: stat.ticks };
        seen.set(pid, known);
      }
      known.last = stat.ticks;
    }
  };
  sample();
  const timer = setInterval(sample, SAMPLE_MS);
  return {
    stop(): CpuUsage {
      clearInterval(timer);
      sample();
      const machine1 = readMachine();
      const out: Record<string, number> = Object.fromEntries(Object.keys(groups).map((g) => [g, 0]));
      for (const s of seen.values()) out[s.group] = (out[s.group] ?? 0) + (s.last - s.base) * TICK_MS;
      const busy = (machine1.busy - machine0.busy) * TICK_MS;
      const ours = Object.values(out).reduce((a, b) => a + b, 0);
      return {
        groups: out,
        other: Math.max(0, busy - ours),
        idle: (machine1.idle - machine0.idle) * TICK_MS,
        wallMs: performance.now() - started,
      };
    },
  };
}

/** Fraction of the machine's CPU that was busy over `ms` (other sessions' work shows up here). */
export async function machineBusy(ms = 1000): Promise<number> {
  const a = readMachine();
  await Bun.sleep(ms);
  const b = readMachine();
  const busy = b.busy - a.busy;
  return busy / Math.max(1, busy + b.idle - a.idle);
}

/** Wait (at most `maxMs`) until the machine is mostly idle; returns the last busy fraction seen. */
export async function waitForQuiet(maxMs = 30_000, threshold = 0.15): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const busy = await machineBusy(1000);
    if (busy <= threshold || Date.now() >= deadline) return busy;
  }
}

function readMachine(): { busy: number; idle: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const [, ...fields] = line.trim().split(/\s+/);
  const n = fields.map(Number);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const idle = (n[3] ?? 0) + (n[4] ?? 0);
  const busy = (n[0] ?? 0) + (n[1] ?? 0) + (n[2] ?? 0) + (n[5] ?? 0) + (n[6] ?? 0) + (n[7] ?? 0);
  return { busy, idle };
}

function readUptimeTicks(): number {
  const seconds = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  return Math.floor((seconds * 1000) / TICK_MS);
}

function readStat(pid: number): { comm: string; ppid: number; ticks: number; startTicks: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = text.lastIndexOf(")");
    const comm = text.slice(text.indexOf("(") + 1, close);
    // Fields after the command: state is field 3, ppid 4, utime 14, stime 15, starttime 22 (1-based).
    const rest = text.slice(close + 2).split(" ");
    const at = (field: number) => Number(rest[field - 3] ?? 0);
    return { comm, ppid: at(4), ticks: at(14) + at(15), startTicks: at(22) };
  } catch {
    return null;
  }
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return "";
  }
}

/** Matches the processes this one spawned whose command is one of `names` (not other sessions' copies). */
export function childNamed(...names: string[]): (p: ProcessInfo) => boolean {
  return (p) => p.ppid === process.pid && names.includes(p.comm);
}

/** Matches the backends PostgreSQL forks for connections to `database` (their title names it). */
export function postgresBackendOf(database: string): (p: ProcessInfo) => boolean {
  return (p) => p.comm === "postgres" && p.cmdline.includes(` ${database} `);
}
