// wrk with a Lua script that adds the bearer token and prints its summary as one JSON line.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { OUT_DIR } from "./processes.ts";
import { run } from "./tools.ts";

export type LoadResult = {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  requests: number;
  /** Socket errors and non-2xx/3xx answers together; a valid run has none. */
  errors: number;
};

const DONE = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\\nWRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"status":%d,"p50":%d,"p99":%d,"mean":%f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.mean))
end
`;

export async function runWrk({
  url,
  token,
  connections,
  threads,
  seconds,
}: {
  url: string;
  token?: string;
  connections: number;
  threads: number;
  seconds: number;
}): Promise<LoadResult> {
  const script = join(OUT_DIR, `wrk-${process.pid}.lua`);
  const header = token ? `wrk.headers["Authorization"] = "Bearer ${token}"\n` : "";
  writeFileSync(script, header + DONE);
  const { stdout } = await run(
    ["wrk", `-t${threads}`, `-c${connections}`, `-d${seconds}s`, "--timeout", "5s", "-s", script, url],
    { timeoutMs: (seconds + 30) * 1000 },
  ).finally(() => rmSync(script, { force: true }));
  const line = stdout.split("\n").find((l) => l.startsWith("WRK_JSON "));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const s = JSON.parse(line.slice("WRK_JSON ".length)) as Record<string, number>;
  const num = (k: string) => s[k] ?? 0;
  return {
    requestsPerSecond: num("requests") / (num("duration_us") / 1e6),
    p50Ms: num("p50") / 1000,
    p99Ms: num("p99") / 1000,
    meanMs: num("mean") / 1000,
    requests: num("requests"),
    errors: num("errors") + num("status"),
  };
}
