// `bun run settle`: settle every due commitment now, from the command line — the catch-up for days
// the daily flow (or the listener) missed. The same verb as the listener's `rec-flexibility-flow`
// handler; a run alongside the listener is safe (rows are claimed with SKIP LOCKED). Nudges go to
// the outbox; the listener's relay delivers them.
//
//   bun run settle [--batch N]
//
// Prints the run's summary as one JSON line. Exit 0 when the run completed (rows left waiting for
// data are not an error), 1 on a configuration or database failure.
import { createLogger, createMetrics, settleDueCommitments, systemCtx } from "@celine/core";
import { openDatabase } from "@celine/core/db";
import { createPlatform } from "@celine/platform";
import {
  configOrExit,
  coreConfigOf,
  PlatformEnv,
  parseEnv,
  withSettlementMethod,
} from "@celine/platform/env";

const env = configOrExit(() => withSettlementMethod(parseEnv(PlatformEnv, process.env)), "run");

const batchArg = process.argv.indexOf("--batch");
const batchSize = batchArg > 0 ? Number(process.argv[batchArg + 1]) : undefined;
if (batchSize !== undefined && !(Number.isInteger(batchSize) && batchSize > 0)) {
  console.error("--batch takes a positive whole number");
  process.exit(1);
}

const log = createLogger({ level: env.LOG_LEVEL, fields: { service: "flexibility-settle" } });
const metrics = createMetrics();
const database = await openDatabase({ url: env.DATABASE_URL, schema: env.DB_SCHEMA });
const platform = createPlatform({ env, log, metrics, mqtt: false });
const ctx = systemCtx({
  db: database.db,
  platform,
  config: coreConfigOf(env),
  log,
  metrics,
  requestId: `settle-cli-${crypto.randomUUID()}`,
  job: "the settle CLI",
});

let code = 0;
try {
  const summary = await settleDueCommitments({ ctx, input: { batchSize } });
  console.log(JSON.stringify(summary));
} catch (error) {
  log.error("settlement run failed", { error });
  code = 1;
} finally {
  await platform.close();
  await database.close();
}
process.exit(code);
