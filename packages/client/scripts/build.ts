// `bun run build` (in packages/client): dist/ with the ESM bundle, one bundled declaration file and a
// publishable package.json. Declarations are tsc's own emit, bundled by dts-bundle-generator: the
// API's types reach them as tsc writes them out (inferred route types, the router's procedures), so
// they name no server module — only hono, @trpc/client and @trpc/server, the package's dependencies.
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { generateDtsBundle } from "dts-bundle-generator";

const ROOT = join(import.meta.dir, "..");
// `--outdir <dir>` builds elsewhere (the build test does, to leave dist/ alone).
const { values: args } = parseArgs({ options: { outdir: { type: "string" } } });
const DIST = args.outdir ? resolve(args.outdir) : join(ROOT, "dist");
/** Left to the consumer's installer: the dependencies and peer dependencies (hono is imported as hono/client). */
const EXTERNAL = ["@trpc/client", "@trpc/server", "hono"];

async function bundle() {
  const result = await Bun.build({
    entrypoints: [join(ROOT, "src/index.ts")],
    outdir: DIST,
    target: "browser",
    format: "esm",
    external: EXTERNAL.flatMap((name) => [name, `${name}/*`]),
    sourcemap: "linked",
  });
  if (!result.success) {
    for (const log of result.logs) console.error(log);
    throw new Error("bundling failed");
  }
}

/** dist/index.d.ts: every declaration the entry point exports or refers to, in one file. */
async function writeDeclarations() {
  const [text] = generateDtsBundle(
    [
      {
        filePath: join(ROOT, "src/index.ts"),
        // Only what src/index.ts exports is exported; what it refers to is declared beside it.
        output: { noBanner: true, exportReferencedTypes: false },
      },
    ],
    { preferredConfigPath: join(ROOT, "tsconfig.build.json") },
  );
  if (text === undefined) throw new Error("dts-bundle-generator wrote nothing");
  await writeFile(join(DIST, "index.d.ts"), text);
}

/** dist/package.json: what is published (`npm publish packages/client/dist`). */
async function writeManifest() {
  const manifest = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8"));
  const published = {
    name: manifest.name,
    version: manifest.version,
    description: manifest.description,
    license: manifest.license,
    type: "module",
    sideEffects: false,
    main: "./index.js",
    types: "./index.d.ts",
    exports: { ".": { types: "./index.d.ts", import: "./index.js", default: "./index.js" } },
    dependencies: manifest.dependencies,
    peerDependencies: manifest.peerDependencies,
  };
  await writeFile(join(DIST, "package.json"), `${JSON.stringify(published, null, 2)}\n`);
  await copyFile(join(ROOT, "README.md"), join(DIST, "README.md"));
}

await rm(DIST, { recursive: true, force: true });
await mkdir(DIST, { recursive: true });
await bundle();
await writeDeclarations();
await writeManifest();
console.log(`built ${relative(process.cwd(), DIST) || "."}`);
