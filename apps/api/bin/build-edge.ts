// `bun run build:edge [outdir]`: the edge entries bundled for their runtimes (default dist/edge/).
//   worker.js — bin/worker.ts, a Worker module for workerd / Cloudflare Workers (postgres.js' Workers
//               build, over `cloudflare:sockets`; run with the nodejs_compat flag)
//   deno.mjs  — bin/deno.ts for Deno 2 (postgres.js over Deno's node:net)
// Both carry the policy and the settlement method as text, and no PGlite, relay or listener.
import { join, resolve } from "node:path";

/** A Worker's compatibility date this build is tested at (apps/api/test/runtimes.test.ts). */
export const WORKER_COMPATIBILITY_DATE = "2026-07-01";
/** postgres.js and node:* modules need Node.js compatibility (the default only from 2026-08-04). */
export const WORKER_COMPATIBILITY_FLAGS = ["nodejs_compat"];

export type EdgeBundles = { worker: string; deno: string };

export async function buildEdge(outdir: string): Promise<EdgeBundles> {
  const worker = await Bun.build({
    entrypoints: [join(import.meta.dir, "worker.ts")],
    outdir,
    naming: "worker.js",
    target: "browser",
    // postgres.js' own Workers build (sockets from cloudflare:sockets) instead of its node:net one.
    conditions: ["workerd", "worker"],
    external: ["node:*", "cloudflare:*"],
    // A Worker module has no file URL, and @celine/platform/env resolves its default config path
    // against one as it loads (the path is never read here: the method is bundled).
    define: { "import.meta.url": JSON.stringify("file:///worker/worker.js") },
  });
  const deno = await Bun.build({
    entrypoints: [join(import.meta.dir, "deno.ts")],
    outdir,
    naming: "deno.mjs",
    // Deno runs Node's module flavour: node: built-ins, createRequire for the CommonJS dependencies.
    target: "node",
  });
  for (const build of [worker, deno]) {
    if (!build.success) throw new AggregateError(build.logs, "bun build failed");
  }
  return { worker: join(outdir, "worker.js"), deno: join(outdir, "deno.mjs") };
}

if (import.meta.main) {
  const outdir = resolve(process.argv[2] ?? "dist/edge");
  const bundles = await buildEdge(outdir);
  console.log(`${bundles.worker}\n${bundles.deno}`);
}
