import { expect } from "bun:test";
import { copyFile } from "node:fs/promises";
import { dirname, join } from "node:path";

// The API in a process of its own, for the tests that prove it under another runtime (node.test.ts,
// runtimes.test.ts): build the Node bundle, start a server, wait for the port it says it listens on.

/** The line every entry point of ours prints once it serves: `{"level":"info","msg":"listening","port":N,…}`. */
export const LISTENING = /"msg":"listening","port":(\d+)/;

export type ServerProcess = {
  name: string;
  url: string;
  /** Everything it printed so far (stdout and stderr interleaved). */
  output(): string;
  /** SIGTERM, then SIGKILL after 5 s. */
  stop(): Promise<void>;
};

/**
 * Spawns a server and waits until its output matches `listening` (group 1: the port). Throws with
 * what it printed when it exits first or stays silent for `timeoutMs`.
 */
export async function spawnServer(
  name: string,
  cmd: string[],
  opts: { cwd: string; env: Record<string, string>; listening?: RegExp; timeoutMs?: number },
): Promise<ServerProcess> {
  const listening = opts.listening ?? LISTENING;
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd,
    // Nothing from the test's own environment but PATH: each runtime sees only its configuration.
    env: { PATH: process.env.PATH ?? "", ...opts.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      output += decoder.decode(read.value, { stream: true });
    }
  };
  void collect(proc.stdout);
  void collect(proc.stderr);
  const stop = async () => {
    proc.kill("SIGTERM");
    const exited = await Promise.race([proc.exited, Bun.sleep(5_000).then(() => null)]);
    if (exited === null) proc.kill("SIGKILL");
  };
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    const port = listening.exec(output)?.[1];
    if (port) return { name, url: `http://127.0.0.1:${port}`, output: () => output, stop };
    if (proc.exitCode !== null) break;
    await Bun.sleep(50);
  }
  proc.kill("SIGKILL");
  throw new Error(`${name} did not start (${cmd.join(" ")}):\n${output}`);
}

const NODE_ENTRY = join(import.meta.dir, "../bin/node.ts");
// PGlite loads its WebAssembly and file-system image relative to the module that imports it: the bundle.
const PGLITE_ASSETS = ["pglite.wasm", "initdb.wasm", "pglite.data"];
// Its contrib extensions (btree_gist: the live-overlap exclusion constraint) come from one level up
// (`../btree_gist.tar.gz` in its contrib module, relative to the bundle once bundled).
const PGLITE_EXTENSIONS = ["btree_gist.tar.gz"];

/** bin/node.ts bundled for Node as `<work>/app/server.mjs`, with PGlite's assets where it looks for them. */
export async function buildNodeBundle(work: string): Promise<string> {
  const outfile = join(work, "app", "server.mjs");
  const build = Bun.spawnSync(
    [process.execPath, "build", NODE_ENTRY, "--target=node", "--outfile", outfile],
    {
      stderr: "pipe",
      stdout: "pipe",
    },
  );
  expect(build.exitCode, `${build.stdout}${build.stderr}`).toBe(0);
  const pgliteDist = dirname(Bun.resolveSync("@electric-sql/pglite", import.meta.dir));
  for (const asset of PGLITE_ASSETS) await copyFile(join(pgliteDist, asset), join(work, "app", asset));
  for (const asset of PGLITE_EXTENSIONS) await copyFile(join(pgliteDist, asset), join(work, asset));
  return outfile;
}

/** Node's binary on PATH; these tests need Node >= 20. */
export function nodeBinary(): string {
  const node = Bun.which("node");
  if (!node) throw new Error("node is not on PATH: this test needs Node >= 20");
  return node;
}

/**
 * The Bun and Node entry points run the outbox relay: it connects to the test broker (under a topic
 * prefix of its own) and gets a client secret the OIDC fake knows. The nudging tool and the registry
 * point at a closed loopback port: none of these tests enqueues work for them.
 */
export function relayEnv(brokerUrl: string, topicPrefix: string): Record<string, string> {
  const url = new URL(brokerUrl);
  const nowhere = "http://127.0.0.1:9";
  return {
    CELINE_MQTT_HOST: url.hostname,
    CELINE_MQTT_PORT: url.port || "1883",
    CELINE_MQTT_TOPIC_PREFIX: `${topicPrefix}-${crypto.randomUUID().slice(0, 8)}`,
    CELINE_OIDC_CLIENT_SECRET: "svc-flexibility-secret",
    NUDGING_API_URL: nowhere,
    REC_REGISTRY_URL: nowhere,
  };
}
