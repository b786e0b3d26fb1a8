// The open-loop generator: a benchmark script re-runs itself as a separate process
// (`<script> --generator URL PLAN OUT RATE SECONDS`, so its timing is not disturbed by the fakes in the
// main process), which fires requests on schedule whatever the answers and writes what it measured to OUT.
// Latency is taken from each request's scheduled moment, so a stalled server cannot hide its queue.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "./processes.ts";
import { run } from "./tools.ts";

/** The generator never holds more requests open than this; beyond it a request counts as not sent. */
export const MAX_IN_FLIGHT = 1_000;

/** What one generator run measured; latencies in ms from the scheduled moment, throughput in answers/s. */
export type OpenLoopLoad = {
  answered: number;
  throughput: number;
  p50: number;
  p99: number;
  max: number;
  statuses: Record<string, number>;
  failed: number;
  notSent: number;
};

export type GeneratorArgs = { url: string; planFile: string; out: string; rate: number; seconds: number };

/** True in the generator process: the script should call `generate` and exit instead of running the benchmark. */
export function isGenerator(): boolean {
  return process.argv.includes("--generator");
}

/**
 * Runs `script` (relative to the repository) as the generator and returns what it wrote to `out`.
 * The command line keeps `<script> --generator` together: CPU accounting matches the generator by it.
 */
export async function runGenerator<L extends OpenLoopLoad>(
  script: string,
  { url, planFile, out, rate, seconds }: GeneratorArgs,
): Promise<L> {
  await run(
    [process.execPath, join(REPO, script), "--generator", url, planFile, out, String(rate), String(seconds)],
    { timeoutMs: (seconds + 120) * 1000 },
  );
  return JSON.parse(readFileSync(out, "utf8")) as L;
}

/** The generator process's side: reads its arguments, runs `fire` with them, writes its result to OUT. */
export async function generate<L extends OpenLoopLoad>(
  fire: (args: GeneratorArgs) => Promise<L>,
): Promise<void> {
  const [url, planFile, out, rateText, secondsText] = process.argv.slice(
    process.argv.indexOf("--generator") + 1,
  );
  if (!url || !planFile || !out) throw new Error("usage: --generator URL PLAN OUT RATE SECONDS");
  const result = await fire({ url, planFile, out, rate: Number(rateText), seconds: Number(secondsText) });
  writeFileSync(out, JSON.stringify(result));
}

/**
 * Sends requests 0 … total − 1, request k at k / rate seconds after the start, open loop; at most
 * MAX_IN_FLIGHT open at once. `send(k)` starts request k; its body is read before the latency is taken,
 * then handed to `onAnswer` (a throw there, as in `send`, counts the request as failed).
 */
export async function fireOpenLoop({
  rate,
  total,
  send,
  onAnswer,
}: {
  rate: number;
  total: number;
  send: (k: number) => Promise<Response>;
  onAnswer?: (k: number, status: number, body: string) => void;
}): Promise<OpenLoopLoad> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let failed = 0;
  let notSent = 0;
  let inFlight = 0;
  let lastAnswer = 0;
  const pending = new Set<Promise<void>>();
  const started = performance.now();

  const fire = (k: number, scheduled: number) => {
    inFlight += 1;
    const done = (async () => {
      try {
        const res = await send(k);
        const body = await res.text();
        const finished = performance.now();
        lastAnswer = finished;
        latencies.push(finished - scheduled);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        onAnswer?.(k, res.status, body);
      } catch {
        failed += 1;
      } finally {
        inFlight -= 1;
      }
    })();
    pending.add(done);
    void done.finally(() => pending.delete(done));
  };

  let k = 0;
  while (k < total) {
    const now = performance.now();
    // Everything whose moment has come leaves now; the schedule never waits for answers.
    for (; k < total; k += 1) {
      const scheduled = started + (k * 1000) / rate;
      if (scheduled > now) break;
      if (inFlight >= MAX_IN_FLIGHT) notSent += 1;
      else fire(k, scheduled);
    }
    const next = started + (k * 1000) / rate;
    await Bun.sleep(Math.max(0, next - performance.now()));
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    answered: latencies.length,
    throughput: latencies.length / ((lastAnswer - started) / 1000),
    p50: at(0.5),
    p99: at(0.99),
    max: latencies[latencies.length - 1] ?? 0,
    statuses,
    failed,
    notSent,
  };
}
