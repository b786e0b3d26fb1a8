import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

// A PostgreSQL cluster of a test's own, to stop and start again (an outage, a restart). Never the
// machine's shared server: this one lives in a temporary directory on a free port, with trust
// authentication on 127.0.0.1 only, and is deleted by `destroy()`.

/** Where Debian-style installs keep the server binaries (initdb, pg_ctl), newest version first. */
const BIN_ROOT = "/usr/lib/postgresql";

export type ThrowawayPostgres = {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication: no password). */
  url: string;
  port: number;
  /** `pg_ctl stop -m fast`: connections are terminated, new ones refused. */
  stop(): Promise<void>;
  /** Start it again on the same port and data directory. */
  start(): Promise<void>;
  /** Stop it (if running) and delete its directory. */
  destroy(): Promise<void>;
};

/** The server binaries' directory, or why there is none (a test skips, printing it). */
export function postgresBinaries(): { bin: string } | { missing: string } {
  const fromEnv = process.env.PG_BIN;
  const candidates = fromEnv
    ? [fromEnv]
    : existsSync(BIN_ROOT)
      ? readdirSync(BIN_ROOT)
          .sort((a, b) => Number(b) - Number(a))
          .map((version) => join(BIN_ROOT, version, "bin"))
      : [];
  const bin = candidates.find((dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl")));
  if (bin) return { bin };
  return { missing: `no initdb and pg_ctl under ${fromEnv ?? `${BIN_ROOT}/*/bin`} (set PG_BIN)` };
}

/**
 * initdb and start a cluster of its own. As root (initdb refuses root) the binaries run as the
 * `postgres` OS user through runuser, and the directory is handed to that user.
 */
export async function startThrowawayPostgres(bin: string): Promise<ThrowawayPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "flex-pg-"));
  const data = join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const { uid, gid } = await osUser("postgres");
    chownSync(dir, uid, gid);
  }
  const run = async (command: string[]) => {
    const argv = asRoot ? ["runuser", "-u", "postgres", "--", ...command] : command;
    const proc = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
    const [code, out, err] = await Promise.all([
      proc.exited,
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
    ]);
    if (code !== 0) throw new Error(`${command.slice(0, 2).join(" ")} exited ${code}: ${err || out}`);
  };
  const port = await freePort();
  await run([join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const start = () =>
    run([join(bin, "pg_ctl"), "-D", data, "-l", join(dir, "log"), "-o", options, "-w", "start"]);
  const stop = () => run([join(bin, "pg_ctl"), "-D", data, "-m", "fast", "-w", "stop"]);
  let running = false;
  await start();
  running = true;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async stop() {
      await stop();
      running = false;
    },
    async start() {
      await start();
      running = true;
    },
    async destroy() {
      if (running) await stop().catch(() => {});
      running = false;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function osUser(name: string): Promise<{ uid: number; gid: number }> {
  const id = async (flag: string) => {
    const proc = Bun.spawn(["id", flag, name], { stdout: "pipe" });
    const text = await new Response(proc.stdout).text();
    if ((await proc.exited) !== 0) throw new Error(`no OS user ${name}`);
    return Number(text.trim());
  };
  return { uid: await id("-u"), gid: await id("-g") };
}

/** A port nothing listens on right now (the kernel's pick, released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
