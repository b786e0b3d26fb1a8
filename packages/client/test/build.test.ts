import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import {
  createHarness,
  createWindowPublisher,
  type Harness,
  type PlatformFakes,
  startPlatformFakes,
} from "@celine/api/testing";

// The published shape of @celine/client: `bun run build` into a consumer's node_modules outside the
// workspace, with only its declared dependencies beside it. tsc checks a consumer against the
// built declarations (no server types may leak in), and Node runs the built bundle against the app.

const PACKAGE = join(import.meta.dir, "..");
const REPO_MODULES = join(PACKAGE, "../../node_modules");
const CONSUMER = join(import.meta.dir, "consumer");
/** What a consumer installs beside the client: its dependencies and peer dependency. */
const INSTALLED = ["hono", "@trpc/client", "@trpc/server"];

let work: string;
let built: { exitCode: number | null; output: string };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "flex-client-"));
  const target = join(work, "node_modules/@celine/client");
  built = await run([process.execPath, "run", "scripts/build.ts", "--outdir", target], PACKAGE);
  for (const name of INSTALLED) {
    await mkdir(dirname(join(work, "node_modules", name)), { recursive: true });
    await symlink(join(REPO_MODULES, name), join(work, "node_modules", name), "dir");
  }
  await copyFile(join(CONSUMER, "consumer.ts"), join(work, "consumer.ts"));
  await copyFile(join(CONSUMER, "run.mjs"), join(work, "run.mjs"));
  // The build types every route of the server: tens of seconds on a loaded 2-core machine.
}, 240_000);

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

/**
 * tsc over the consumer with the given module resolution: no Bun types and no skipped library
 * checks (ESNext.Disposable is what @trpc/server's own declarations need of a consumer's lib).
 */
async function typeCheck(resolution: "nodenext") {
  const config = {
    compilerOptions: {
      target: "ES2022",
      module: "NodeNext",
      moduleResolution: resolution,
      lib: ["ES2023", "DOM", "DOM.Iterable", "ESNext.Disposable"],
      types: [],
      strict: true,
      noEmit: true,
      skipLibCheck: false,
    },
    files: ["consumer.ts"],
  };
  await writeFile(join(work, `tsconfig.${resolution}.json`), JSON.stringify(config));
  const tsc = join(REPO_MODULES, "typescript/bin/tsc");
  return run([process.execPath, tsc, "-p", `tsconfig.${resolution}.json`], work);
}

test("the build writes the bundle, declarations and a publishable package.json", async () => {
  expect(built.exitCode, built.output).toBe(0);
  const dist = join(work, "node_modules/@celine/client");
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
  const declarations = await Promise.all(
    ["index", "rest", "trpc", "options", "problem-error", "api-types"].map((name) =>
      readFile(join(dist, `${name}.d.ts`), "utf8"),
    ),
  );
  for (const text of declarations) {
    expect(text).not.toContain("apps/api");
    expect(text).not.toContain("@celine/");
    expect(text).not.toMatch(/["']\.{1,2}\/[^"']+\.ts["']/);
  }
});

// Node ESM resolution is the stricter of the two a consumer may use (bundler resolution accepts
// everything it accepts), so one type-check covers both.
test("a consumer type-checks against the built declarations (Node ESM resolution)", async () => {
  const nodenext = await typeCheck("nodenext");
  expect(nodenext.exitCode, nodenext.output).toBe(0);
}, 180_000);

test("the built client runs under Node against the real app (REST, tRPC, ProblemError)", async () => {
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
    const result = await run([node, "run.mjs"], work, {
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
