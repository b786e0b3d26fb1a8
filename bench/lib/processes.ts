// The servers under test run as separate processes, as in production: the real API entry point
// (apps/api/bin/start.ts) and a bare Hono ceiling. Their logs go to bench/out/.
import { closeSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";

export const REPO = join(import.meta.dir, "..", "..");
export const OUT_DIR = join(REPO, "bench", "out");

export type ServerProcess = {
  url: string;
  pid: number;
  logFile: string;
  stop(): Promise<void>;
};

/** A port the kernel says is free right now on 127.0.0.1. */
export function freePort(): number {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port;
  probe.stop(true);
  if (port === undefined) throw new Error("no free port");
  return port;
}

/** Spawn `bun <script>` with `env`, wait until `readyPath` answers 200 (or the process dies). */
export async function startServer({
  name,
  script,
  env,
  readyPath = "/health",
  bunArgs = [],
}: {
  name: string;
  script: string;
  env: Record<string, string>;
  readyPath?: string;
  /** Flags for Bun itself (e.g. `--cpu-prof`), before the script. */
  bunArgs?: string[];
}): Promise<ServerProcess> {
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(OUT_DIR, `${name}.log`);
  const log = openSync(logFile, "w");
  // Run the script directly with this Bun (no `bun run` wrapper): the pid is the server itself.
  const proc: Subprocess = Bun.spawn([process.execPath, ...bunArgs, script], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env, PORT: String(port) },
    stdout: log,
    stderr: log,
  });
  closeSync(log);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) {
      throw new Error(`${name} exited with ${proc.exitCode} before listening:\n${tail(logFile)}`);
    }
    try {
      const res = await fetch(url + readyPath, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      proc.kill();
      throw new Error(`${name} did not answer ${readyPath} within 30 s:\n${tail(logFile)}`);
    }
    await Bun.sleep(100);
  }
  return {
    url,
    pid: proc.pid,
    logFile,
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill("SIGTERM");
      const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
      if (!exited) proc.kill("SIGKILL");
    },
  };
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export type MemoryReading = { rssMiB: number; hwmMiB: number };

/** VmRSS and VmHWM (peak RSS since the process started) of `pid`, from /proc. */
export function readMemory(pid: number): MemoryReading {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { rssMiB: kib("VmRSS") / 1024, hwmMiB: kib("VmHWM") / 1024 };
}

/** Samples VmRSS every `intervalMs` until stopped; returns the highest sample and the samples' count. */
export function sampleMemory(pid: number, intervalMs = 50) {
  let peak = readMemory(pid).rssMiB;
  let samples = 1;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, readMemory(pid).rssMiB);
      samples++;
    } catch {
      // the process is gone; the last peak stands
    }
  }, intervalMs);
  return {
    stop(): { peakRssMiB: number; samples: number } {
      clearInterval(timer);
      peak = Math.max(peak, readMemory(pid).rssMiB);
      return { peakRssMiB: peak, samples: samples + 1 };
    },
  };
}

/**
 * No abuse limits: a benchmark drives thousands of requests with one token or from one address,
 * which the default limits would answer with 429s. The abuse benchmark sets them back (`extra`).
 */
export const LIMITS_LIFTED: Record<string, string> = {
  RATE_LIMIT_READS_PER_MIN: "0",
  RATE_LIMIT_WRITES_PER_MIN: "0",
  RATE_LIMIT_EXPORT_PER_MIN: "0",
  RATE_LIMIT_FEED_PER_MIN: "0",
  RATE_LIMIT_UNAUTHENTICATED_PER_MIN: "0",
};

/** The API's entry point with a local OIDC issuer and a PostgreSQL database, dev posture, no limits. */
export function apiEnv({
  databaseUrl,
  issuer,
  extra = {},
}: {
  databaseUrl: string;
  issuer: { url: string; jwksUri: string; audience: string };
  extra?: Record<string, string>;
}): Record<string, string> {
  return {
    CELINE_ENV: "dev",
    DATABASE_URL: databaseUrl,
    DB_SCHEMA: "flexibility",
    CELINE_OIDC_BASE_URL: issuer.url,
    CELINE_OIDC_JWKS_URI: issuer.jwksUri,
    CELINE_OIDC_AUDIENCE: issuer.audience,
    POLICY_DIR: join(REPO, "policies"),
    ...LIMITS_LIFTED,
    ...extra,
  };
}

/** Points the API's MQTT connection (its outbox relay) at a broker on 127.0.0.1. */
export function brokerEnv(port: number): Record<string, string> {
  return { CELINE_MQTT_HOST: "127.0.0.1", CELINE_MQTT_PORT: String(port) };
}
