import type { CoreConfig, Ctx, Db } from "./context.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { Platform } from "./platform/ports.ts";

/** Our own scheduled jobs (the listener's handlers, the relay's reminders, `bun run settle`). */
export const SYSTEM_ACTOR = { kind: "system", id: "system" } as const;

/**
 * A verb context for a job acting as the system. The system actor needs no policy decision (see
 * authorize); anything else asking through this context is refused, naming the job, and the
 * refusal is logged as the audit record.
 */
export function systemCtx({
  db,
  platform,
  config,
  log,
  metrics,
  now = () => new Date(),
  requestId = null,
  job,
}: {
  db: Db;
  platform: Platform;
  config: CoreConfig;
  log: Logger;
  metrics: Metrics;
  now?: () => Date;
  /** Named in audit records (a run id, a CLI invocation). */
  requestId?: string | null;
  /** Who acts, as the refusal names it: "the listener", "the settle CLI". */
  job: string;
}): Ctx {
  return {
    db,
    actor: SYSTEM_ACTOR,
    authorizer: async () => ({ allow: false, reason: `${job} acts as the system only` }),
    log,
    audit: (record) => log.warn("denied", { ...record }),
    config,
    requestId,
    now,
    credentials: null,
    platform,
    metrics,
  };
}
