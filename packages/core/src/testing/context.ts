import type { Actor, AuditRecord, Authorizer, Ctx } from "../context.ts";
import { DEFAULT_CORE_CONFIG } from "../context.ts";
import type { Db } from "../db/database.ts";
import { createLogger } from "../log.ts";
import { createMetrics, type Metrics } from "../metrics.ts";
import type { Platform } from "../platform/ports.ts";
import { unconfiguredPlatform } from "../platform/unconfigured.ts";
import { systemCtx } from "../system-ctx.ts";

/** A verb context for tests; the authorizer is the caller's choice (usually the real policy). */
export function createTestCtx({
  db,
  actor,
  authorizer,
  now = () => new Date(),
  platform = unconfiguredPlatform,
  credentials = null,
  metrics = createMetrics(),
}: {
  db: Db;
  actor: Actor;
  authorizer: Authorizer;
  now?: () => Date;
  platform?: Platform;
  credentials?: string | null;
  metrics?: Metrics;
}): Ctx & { audits: AuditRecord[] } {
  const audits: AuditRecord[] = [];
  return {
    db,
    actor,
    authorizer,
    log: createLogger({ level: "silent" }),
    audit: (record) => audits.push(record),
    audits,
    config: DEFAULT_CORE_CONFIG,
    requestId: null,
    now,
    credentials,
    platform,
    metrics,
  };
}

/** A context for tests acting as the system (a job, seeding): core's systemCtx, silent, default config. */
export function createSystemTestCtx({
  db,
  now = () => new Date(),
  platform = unconfiguredPlatform,
  metrics = createMetrics(),
}: {
  db: Db;
  now?: () => Date;
  platform?: Platform;
  metrics?: Metrics;
}): Ctx {
  return systemCtx({
    db,
    platform,
    config: DEFAULT_CORE_CONFIG,
    log: createLogger({ level: "silent" }),
    metrics,
    now,
    job: "the test",
  });
}
