// pgbench with a custom script and per-transaction latency logs (so p50/p99 are computed the same
// way as wrk's). Prepared statements, like postgres.js.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OUT_DIR } from "./processes.ts";
import { run } from "./tools.ts";
import type { LoadResult } from "./wrk.ts";

export async function runPgbench({
  script,
  variables,
  connections,
  threads,
  seconds,
  libpqEnv,
  rate,
}: {
  /** pgbench script text; `:name` refers to `variables`. */
  script: string;
  variables?: Record<string, string>;
  connections: number;
  threads: number;
  seconds: number;
  libpqEnv: Record<string, string>;
  /** Transactions per second to schedule (`-R`): each one's latency then counts from its scheduled start. */
  rate?: number;
}): Promise<LoadResult & { maxMs: number }> {
  const dir = join(OUT_DIR, `pgbench-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "script.sql");
  writeFileSync(file, script);
  const defines = Object.entries(variables ?? {}).flatMap(([k, v]) => ["-D", `${k}=${v}`]);
  const { stdout } = await run(
    [
      "pgbench",
      "-n",
      "-M",
      "prepared",
      "-c",
      String(connections),
      "-j",
      String(threads),
      ...(rate === undefined ? [] : ["-R", String(rate)]),
      "-T",
      String(seconds),
      "-l",
      `--log-prefix=${join(dir, "tx")}`,
      ...defines,
      "-f",
      file,
    ],
    { env: libpqEnv, timeoutMs: (seconds + 60) * 1000 },
  );
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1]);
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  if (!Number.isFinite(tps)) throw new Error(`pgbench printed no tps:\n${stdout}`);
  // Log lines: client_id transaction_no time_us script_no epoch_s epoch_us — time_us is the latency.
  const latencies: number[] = [];
  for (const name of readdirSync(dir).filter((n) => n.startsWith("tx."))) {
    for (const line of readFileSync(join(dir, name), "utf8").split("\n")) {
      const field = line.split(" ")[2];
      if (field !== undefined) latencies.push(Number(field));
    }
  }
  rmSync(dir, { recursive: true, force: true });
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    (latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0) / 1000;
  return {
    requestsPerSecond: tps,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    meanMs: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length) / 1000,
    maxMs: (latencies.at(-1) ?? 0) / 1000,
    requests: latencies.length,
    errors: failed,
  };
}
