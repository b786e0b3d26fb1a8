// `bun run dev`: the service and a simulated CELINE platform in one process, zero configuration.
// See stack.ts for what runs; docs/development.md "Local development" for what to do with it.
import { resolve } from "node:path";
import { jsonSink, messageOf } from "@celine/core";
import { chooseSink } from "./pretty-log.ts";
import { startDevStack } from "./stack.ts";

const started = performance.now();
const env = process.env;
const sink = chooseSink(env.LOG_FORMAT, process.stdout.isTTY === true);
const pretty = sink !== jsonSink;
const dataDir = resolve(env.DEV_DATA_DIR ?? resolve(import.meta.dir, "../../../.data"));

const port = (name: string, fallback: number) => {
  const value = Number(env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    console.error(`${name} must be a port number (0 = any free port), not ${env[name]}`);
    process.exit(1);
  }
  return value;
};

let stack: Awaited<ReturnType<typeof startDevStack>>;
try {
  stack = await startDevStack({
    dataDir,
    host: env.DEV_HOST ?? "127.0.0.1",
    apiPort: port("PORT", 8017),
    oidcPort: port("DEV_OIDC_PORT", 8080),
    oidcPortExplicit: env.DEV_OIDC_PORT !== undefined,
    mqttPort: port("DEV_MQTT_PORT", 1883),
    listenerPort: port("LISTENER_PORT", 8018),
    env,
    sink,
  });
} catch (error) {
  const message = messageOf(error);
  const hint = /EADDRINUSE|in use/i.test(message)
    ? ` (is another \`bun run dev\` running? set PORT to use another port)`
    : "";
  console.error(`bun run dev could not start: ${message}${hint}`);
  process.exit(1);
}

const { info } = stack;
const seconds = ((performance.now() - started) / 1000).toFixed(1);
const token = await stack.memberToken("member-01");
const notes = [
  stack.mqttPreferredTaken
    ? "port 1883 is taken (another broker?): the embedded broker uses another port"
    : "",
  stack.issuerMovedFrom
    ? `the issuer moved from port ${stack.issuerMovedFrom}: tokens minted before this start no longer verify`
    : "",
].filter((note) => note !== "");

if (pretty) {
  console.log(`
  CELINE Flexibility API — development stack (CELINE_ENV=dev), ready in ${seconds} s (database ${(stack.timings.database_ms / 1000).toFixed(1)} s)

  API            ${info.api}        docs ${info.docs}   health ${info.api}/health
  listener       ${info.listener.probes ?? "(no probes)"}  (health, ready, metrics)
  OIDC issuer    ${info.issuer}
  Digital Twin   ${info.digital_twin}    nudging tool ${info.nudging}    registry ${info.registry}
  MQTT broker    ${info.broker.url}
  data           ${info.data_dir}   (delete it to start afresh)
${notes.map((note) => `  note           ${note}\n`).join("")}
  A token for member-01 (Giulia Rossi), valid 12 h and across restarts:
    curl -s -H "Authorization: Bearer ${token}" ${info.api}/api/suggestions

  More tokens:   bun run dev:token member --sub member-02     bun run dev:token service --scope flexibility.admin
  A whole day:   bun run demo
`);
} else {
  sink({
    time: new Date().toISOString(),
    level: "info",
    msg: "dev stack ready",
    service: "dev",
    ready_seconds: Number(seconds),
    timings: stack.timings,
    ...info,
    notes,
    member_token: token,
  });
}

let stopping = false;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await stack.close();
    process.exit(0);
  });
}
