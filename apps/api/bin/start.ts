// `bun run start`: the API alone, configured from the environment, production posture.
import { assemble, parseApiEnv } from "../src/server.ts";

const env = parseApiEnv(process.env);
// This process also runs the outbox relay (MQTT events, nudges, held reminders); so does the listener.
const { app, problems, close } = await assemble(env, { relay: true, collectGarbage: () => Bun.gc(true) });
if (problems.length > 0) {
  console.error(`refusing to start outside CELINE_ENV=dev:\n  - ${problems.join("\n  - ")}`);
  await close();
  process.exit(1);
}
const server = Bun.serve({ port: env.PORT, fetch: app.fetch });
console.log(
  JSON.stringify({ level: "info", msg: "listening", port: server.port, time: new Date().toISOString() }),
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, async () => {
    await server.stop();
    await close();
    process.exit(0);
  });
}
