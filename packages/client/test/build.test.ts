import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createHarness,
  createWindowPublisher,
  type Harness,
  type PlatformFakes,
  startPlatformFakes,
} from "@celine/api/testing";

// The published shape of @celine/client, as a BFF gets it: `bun run build`, `npm pack` in dist/,
// and `npm install <tarball>` into an empty folder — so only the package's declared dependencies
// (from the registry or npm's cache) sit beside it, and nothing of the workspace. tsc checks a BFF
// example against the installed declarations, and Node runs the installed bundle against the app.

const PACKAGE = join(import.meta.dir, "..");
const REPO_MODULES = join(PACKAGE, "../../node_modules");
const CONSUMER = join(import.meta.dir, "consumer");
/** What the built declarations may import: the dependencies and the peer dependency. */
const DECLARED = /^(@trpc\/client|@trpc\/server|hono)(\/|$)/;

let work: string;
let dist: string;
let consumer: string;
let built: { exitCode: number | null; output: string };
let packed: { exitCode: number | null; output: string };
let installed: { exitCode: number | null; output: string };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "flex-client-"));
  dist = join(work, "dist");
  consumer = join(work, "consumer");
  // The build types every route of the server: tens of seconds on a loaded 2-core machine.
  built = await run([process.execPath, "run", "scripts/build.ts", "--outdir", dist], PACKAGE);
  if (built.exitCode !== 0) return;
  packed = await run(["npm", "pack", "--pack-destination", work, "--loglevel=error"], dist);
  if (packed.exitCode !== 0) return;
  const tarball = (await readdir(work)).find((name) => name.endsWith(".tgz"));
  if (!tarball) throw new Error(`npm pack left no tarball: ${packed.output}`);
  await mkdir(consumer);
  await writeFile(
    join(consumer, "package.json"),
    JSON.stringify({ name: "bff-example", private: true, type: "module" }),
  );
  // npm installs the tarball's dependencies and (npm ≥ 7) its peer dependency, nothing else.
  installed = await run(
    ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", join(work, tarball)],
    consumer,
  );
  await copyFile(join(CONSUMER, "consumer.ts"), join(consumer, "consumer.ts"));
  await copyFile(join(CONSUMER, "run.mjs"), join(consumer, "run.mjs"));
}, 300_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function run(cmd: string[], cwd: string, env?: Record<string, string>) {
  const child = Bun.spawn(cmd, { cwd, env, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  return { exitCode: await child.exited, stdout, output: `${stdout}${stderr}` };
}

test("the build writes the bundle, one declaration file and a publishable package.json", async () => {
  expect(built.exitCode, built.output).toBe(0);
  const manifest = JSON.parse(await readFile(join(dist, "package.json"), "utf8"));
  expect(manifest.exports["."]).toEqual({
    types: "./index.d.ts",
    import: "./index.js",
    default: "./index.js",
  });
  expect(manifest.private).toBeUndefined();
  const bundle = await readFile(join(dist, "index.js"), "utf8");
  // Only the declared dependencies are imported at run time: nothing of the server is bundled.
  const imports = [...bundle.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
  expect(new Set(imports), bundle.slice(0, 500)).toEqual(new Set(["hono/client", "@trpc/client"]));
  const declarations = await readFile(join(dist, "index.d.ts"), "utf8");
  const specifiers = [...declarations.matchAll(/(?:from|import\()\s*["']([^"']+)["']/g)].map((m) => m[1]);
  expect(specifiers.length).toBeGreaterThan(0);
  expect(specifiers.filter((s) => s === undefined || !DECLARED.test(s))).toEqual([]);
  // Nothing of the workspace is named: no package of ours, no source path.
  expect(declarations.match(/@celine\/(?!client)|\bapps\/|\bpackages\/|\.ts["']/g)).toBeNull();
});

test("npm packs dist/ and installs the tarball into an empty folder with only its declared dependencies", async () => {
  expect(packed.exitCode, packed.output).toBe(0);
  expect(installed.exitCode, installed.output).toBe(0);
  const modules = join(consumer, "node_modules");
  const client = JSON.parse(await readFile(join(modules, "@celine/client/package.json"), "utf8"));
  expect(client.name).toBe("@celine/client");
  // Not a link into the workspace: the installed copy is the tarball's.
  const entries = await readdir(join(modules, "@celine"), { withFileTypes: true });
  expect(entries.map((e) => [e.name, e.isDirectory()])).toEqual([["client", true]]);
  for (const name of ["hono", "@trpc/client", "@trpc/server"]) {
    expect(JSON.parse(await readFile(join(modules, name, "package.json"), "utf8")).name).toBe(name);
  }
});

// Node ESM resolution is the stricter of the two a consumer may use (bundler resolution accepts
// everything it accepts), so one type-check covers both. No Bun types, no skipped library checks
// (ESNext.Disposable is what @trpc/server's own declarations need of a consumer's lib).
test("a BFF example type-checks against the installed package (tsc --noEmit, Node ESM resolution)", async () => {
  expect(installed.exitCode, installed.output).toBe(0);
  const config = {
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: "nodenext",
      lib: ["ES2023", "DOM", "DOM.Iterable", "ESNext.Disposable"],
      types: [],
      strict: true,
      noEmit: true,
      skipLibCheck: false,
    },
    files: ["consumer.ts"],
  };
  await writeFile(join(consumer, "tsconfig.json"), JSON.stringify(config));
  const tsc = join(REPO_MODULES, "typescript/bin/tsc");
  const result = await run([process.execPath, tsc, "--noEmit", "-p", "tsconfig.json"], consumer);
  expect(result.exitCode, result.output).toBe(0);
}, 180_000);

test("the installed client runs under Node against the real app (REST, tRPC, ProblemError)", async () => {
  expect(installed.exitCode, installed.output).toBe(0);
  const node = Bun.which("node");
  if (!node) throw new Error("node is not on PATH: this test needs Node >= 20");
  // The morning before the window run.mjs commits to, which the Digital Twin fake publishes.
  let fakes: PlatformFakes | undefined;
  const h: Harness = await createHarness(async (issuer) => {
    fakes = await startPlatformFakes(issuer);
    return { platform: fakes.platform, now: () => new Date("2026-07-01T06:00:00Z") };
  });
  if (!fakes) throw new Error("no platform fakes");
  createWindowPublisher(fakes.dt).publish("consumer-carol", {
    id: "w-node-consumer",
    start: "2026-07-02T11:00:00Z",
    end: "2026-07-02T12:00:00Z",
  });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: h.app.fetch });
  try {
    const result = await run([node, "run.mjs"], consumer, {
      PATH: process.env.PATH ?? "",
      API_URL: `http://127.0.0.1:${server.port}`,
      API_TOKEN: await h.participant("consumer-carol"),
    });
    expect(result.exitCode, result.output).toBe(0);
    expect(JSON.parse(result.stdout), result.output).toEqual({
      node: expect.stringMatching(/^v(2\d|[3-9]\d)\./),
      created: "consumer-carol",
      total: 1,
      problem: { status: 404, detail: "commitment 6f1f6c36-3c1a-4d0e-9d2b-1b2f3c4d5e6f not found" },
      trpcProblem: 404,
    });
  } finally {
    await server.stop(true);
    await h.close();
    await fakes.close();
  }
}, 60_000);
