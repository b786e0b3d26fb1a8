// The API under Node (>= 20), served by @hono/node-server. The app is a web-standard fetch handler;
// only serving and signals differ from the Bun entry point (start.ts). Node cannot run this file
// as TypeScript: bundle it first, e.g.
//   bun build apps/api/bin/node.ts --target=node --outfile dist/server.mjs
// then copy @electric-sql/pglite's dist/{pglite.wasm,initdb.wasm,pglite.data} beside the bundle
// (the embedded database loads them relative to the bundle) and run it from a directory holding
// policies/, drizzle/ and config/flexibility.yaml (POLICY_DIR / MIGRATIONS_DIR / FLEXIBILITY_CONFIG
// say otherwise).
import { resolve } from "node:path";
import { refusalOf } from "@celine/platform/env";
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { metricsFetch } from "../src/lib/metrics-endpoint.ts";
import { assemble, parseApiEnv } from "../src/server.ts";

// A bundle cannot find config/ relative to its own source file: the working directory's, by default.
const env = parseApiEnv({ FLEXIBILITY_CONFIG: resolve("config/flexibility.yaml"), ...process.env });
// Like start.ts, this process also runs the outbox relay (MQTT events, nudges, held reminders).
const { app, problems, metrics, close } = await assemble(env, {
  relay: true,
  // Only the embedded database (no DATABASE_URL) reads these; in memory when PGLITE_DATA_DIR is unset.
  dataDir: process.env.PGLITE_DATA_DIR || undefined,
  migrations: resolve(process.env.MIGRATIONS_DIR || "drizzle"),
  // Node offers a synchronous collection only when started with --expose-gc.
  collectGarbage: (globalThis as { gc?: () => void }).gc,
  socketAddress: (c) => getConnInfo(c).remote.address,
});
if (problems.length > 0) {
  console.error(refusalOf("start", problems));
  await close();
  process.exit(1);
}
const server = serve({ fetch: app.fetch, port: env.PORT }, (info) => {
  console.log(
    JSON.stringify({
      level: "info",
      msg: "listening",
      port: info.port,
      runtime: `node ${process.version}`,
      time: new Date().toISOString(),
    }),
  );
});

const metricsServer =
  env.METRICS_PORT === undefined
    ? null
    : serve({ fetch: metricsFetch(metrics, env.METRICS_TOKEN), port: env.METRICS_PORT });

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    metricsServer?.close();
    server.close(async () => {
      await close();
      process.exit(0);
    });
  });
}
