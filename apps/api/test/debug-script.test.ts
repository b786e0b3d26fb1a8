import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// Issue 14, item 8: `bun run debug` binds the inspector to 127.0.0.1 and keeps its URL (whose path is
// the session's secret) out of the logs: in a file only its user can read.

const REPO = join(import.meta.dir, "../../..");
const dir = mkdtempSync(join(tmpdir(), "flex-debug-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The local addresses (hex, as /proc/net/tcp writes them) of the sockets listening on `port`; null off Linux. */
function listenersOn(port: number): string[] | null {
  let table: string;
  try {
    table = readFileSync("/proc/net/tcp", "utf8") + readFileSync("/proc/net/tcp6", "utf8");
  } catch {
    return null;
  }
  const hex = port.toString(16).toUpperCase().padStart(4, "0");
  return table
    .split("\n")
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[1]?.endsWith(`:${hex}`) && f[3] === "0A")
    .map((f) => f[1]?.split(":")[0] ?? "");
}

function freePort(): number {
  const probe = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = probe.port ?? 0;
  probe.stop(true);
  return port;
}

test("package.json's debug script runs the wrapper, not a bare --inspect", async () => {
  const scripts = (await Bun.file(join(REPO, "package.json")).json()).scripts as Record<string, string>;
  expect(scripts.debug).toBe("bun run apps/api/bin/debug.ts");
  expect(scripts.debug).not.toContain("0.0.0.0");
});

test("the inspector listens on 127.0.0.1 only; its URL is in a 0600 file and in no log line", async () => {
  const inspectPort = freePort();
  const urlFile = join(dir, "inspector-url");
  const child = Bun.spawn([process.execPath, join(REPO, "apps/api/bin/debug.ts")], {
    cwd: REPO,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      CELINE_ENV: "dev",
      PORT: "0",
      LOG_LEVEL: "warn",
      INSPECT_PORT: String(inspectPort),
      INSPECTOR_URL_FILE: urlFile,
      // Nothing to reach: the API starts without a broker or database of its own (embedded PGlite).
      CELINE_MQTT_HOST: "127.0.0.1",
      CELINE_MQTT_PORT: "9",
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  const output = Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  try {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      try {
        if (readFileSync(urlFile, "utf8").trim()) break;
      } catch {
        // not written yet
      }
      await Bun.sleep(100);
    }
    const url = readFileSync(urlFile, "utf8").trim();
    expect(url).toMatch(new RegExp(`^ws://127\\.0\\.0\\.1:${inspectPort}/[0-9a-f-]{36}$`));
    expect(statSync(urlFile).mode & 0o777).toBe(0o600);
    // The inspector answers on loopback (its HTTP side says 404 or upgrade-required, but answers).
    const res = await fetch(`http://127.0.0.1:${inspectPort}/json`).catch(() => null);
    expect(res).not.toBeNull();
    // Linux: every listening socket on that port is bound to 127.0.0.1 (0100007F), none to 0.0.0.0.
    const listening = listenersOn(inspectPort);
    if (listening !== null) expect(listening).toEqual(["0100007F"]);
    const secret = new URL(url).pathname.slice(1);
    child.kill("SIGTERM");
    await child.exited;
    const [stdout, stderr] = await output;
    expect(stderr).toContain('"msg":"inspector listening"');
    expect(stdout + stderr).not.toContain(secret);
    expect(stdout + stderr).not.toContain("debug.bun.sh");
  } finally {
    child.kill("SIGKILL");
  }
}, 60_000);
