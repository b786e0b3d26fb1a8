// `bun run start`: the API alone, configured from the environment, production posture.

import { refusalOf } from "@celine/platform/env";
import type { Server as BunServer } from "bun";
import { metricsFetch } from "../src/lib/metrics-endpoint.ts";
import { assemble, parseApiEnv } from "../src/server.ts";

const env = parseApiEnv(process.env);
// This process also runs the outbox relay (MQTT events, nudges, held reminders); so does the listener.
const { app, problems, metrics, close } = await assemble(env, {
  relay: true,
  collectGarbage: () => Bun.gc(true),
  // Bun hands its server to fetch as the second argument: Hono's `c.env`.
  socketAddress: (c) => (c.env as BunServer<undefined>).requestIP(c.req.raw)?.address,
});
if (problems.length > 0) {
  console.error(refusalOf("start", problems));
  await close();
  process.exit(1);
}
const server = Bun.serve({ port: env.PORT, fetch: app.fetch });
const metricsServer =
  env.METRICS_PORT === undefined
    ? null
    : Bun.serve({ port: env.METRICS_PORT, fetch: metricsFetch(metrics, env.METRICS_TOKEN) });
console.log(
  JSON.stringify({
    level: "info",
    msg: "listening",
    port: server.port,
    ...(metricsServer ? { metrics_port: metricsServer.port } : {}),
    time: new Date().toISOString(),
  }),
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, async () => {
    await server.stop();
    await metricsServer?.stop();
    await close();
    process.exit(0);
  });
}
