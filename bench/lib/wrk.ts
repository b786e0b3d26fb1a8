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
  io.write(string.format('\\nWRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"errors":%d,"status":%d,"p50":%d,"p99":%d,"mean":%f,"statuses":{%s}}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.mean, statuses_json()))
end
statuses_json = statuses_json or function() return "" end
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
  const header = token ? `wrk.headers["Authorization"] = "Bearer ${token}"\n` : "";
  const { result } = await runScript(header, { url, connections, threads, seconds });
  return result;
}

/**
 * A paced load: every connection waits `pauseMs` after each answer before its next request (wrk's
 * `delay`), so `connections` connections offer about connections × 1000 / (pauseMs + latency)
 * requests a second — a steady flood that costs the sender little CPU. Answers are counted by status.
 */
export async function runPacedWrk({
  url,
  token,
  method = "GET",
  body,
  connections,
  threads,
  seconds,
  pauseMs,
}: {
  url: string;
  token: string;
  method?: string;
  body?: string;
  connections: number;
  threads: number;
  seconds: number;
  pauseMs: number;
}): Promise<LoadResult & { statuses: Record<string, number> }> {
  if (body?.includes("]]")) throw new Error("the body cannot be put in a Lua long string");
  const script = `
wrk.method = "${method}"
wrk.headers["Authorization"] = "Bearer ${token}"
${body === undefined ? "" : `wrk.headers["Content-Type"] = "application/json"\nwrk.body = [[${body}]]`}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function delay() return ${Math.max(0, Math.round(pauseMs))} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function statuses_json()
  local merged = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do merged[status] = (merged[status] or 0) + n end
  end
  local parts = {}
  for status, n in pairs(merged) do table.insert(parts, string.format('"%d":%d', status, n)) end
  return table.concat(parts, ",")
end
`;
  const { result, statuses } = await runScript(script, { url, connections, threads, seconds });
  return { ...result, statuses };
}

async function runScript(
  lua: string,
  {
    url,
    connections,
    threads,
    seconds,
  }: { url: string; connections: number; threads: number; seconds: number },
): Promise<{ result: LoadResult; statuses: Record<string, number> }> {
  const script = join(OUT_DIR, `wrk-${process.pid}-${crypto.randomUUID().slice(0, 8)}.lua`);
  writeFileSync(script, lua + DONE);
  const { stdout } = await run(
    ["wrk", `-t${threads}`, `-c${connections}`, `-d${seconds}s`, "--timeout", "5s", "-s", script, url],
    { timeoutMs: (seconds + 30) * 1000 },
  ).finally(() => rmSync(script, { force: true }));
  const line = stdout.split("\n").find((l) => l.startsWith("WRK_JSON "));
  if (!line) throw new Error(`wrk printed no summary:\n${stdout}`);
  const s = JSON.parse(line.slice("WRK_JSON ".length)) as Record<string, number> & {
    statuses: Record<string, number>;
  };
  const num = (k: string) => (typeof s[k] === "number" ? s[k] : 0);
  return {
    result: {
      requestsPerSecond: num("requests") / (num("duration_us") / 1e6),
      p50Ms: num("p50") / 1000,
      p99Ms: num("p99") / 1000,
      meanMs: num("mean") / 1000,
      requests: num("requests"),
      errors: num("errors") + num("status"),
    },
    statuses: s.statuses,
  };
}
