import { min } from "drizzle-orm";
import type { Database, Db } from "../db/database.ts";
import { outbox } from "../db/schema.ts";
import type { Logger } from "../log.ts";
import type { Metrics } from "../metrics.ts";
import type { Platform } from "../platform/ports.ts";
import { OUTBOX_CHANNEL } from "./enqueue.ts";
import { eligible, OUTBOX_RELAY_ERRORS, type RelayOptions, relayOutboxOnce } from "./relay.ts";

export type OutboxRelay = {
  /** Run a round now (also what a NOTIFY does). */
  wake(): void;
  /** Stop polling and listening; resolves after the round in flight has finished. */
  stop(): Promise<void>;
};

/**
 * The relay loop: a round at once on NOTIFY (new entries), again immediately while rounds find
 * work, otherwise at the next pending entry's due time or after `pollMs`, whichever is sooner —
 * so a held entry goes out within `pollMs` (default 5 s) of falling due even if NOTIFY is lost.
 */
export async function startOutboxRelay({
  database,
  platform,
  log,
  metrics,
  now = () => new Date(),
  pollMs = 5_000,
  ...delivery
}: {
  database: Pick<Database, "db" | "listen">;
  platform: Pick<Platform, "publisher" | "nudging" | "webhooks">;
  log: Logger;
  metrics: Metrics;
  now?: () => Date;
  pollMs?: number;
} & Pick<
  RelayOptions,
  "batch" | "backoff" | "webhookBackoff" | "timeoutMs" | "allowPrivateWebhookTargets" | "wallClock"
>): Promise<OutboxRelay> {
  const relayLog = log.child({ component: "outbox-relay" });
  let running = true;
  let woken = false;
  let wakeUp: () => void = () => {};
  const wake = () => {
    woken = true;
    wakeUp();
  };

  let unlisten: (() => Promise<void>) | null = null;
  try {
    unlisten = await database.listen(OUTBOX_CHANNEL, wake);
  } catch (error) {
    relayLog.warn("outbox: LISTEN failed; polling only", { error });
  }

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = () => {};
        resolve();
      }
      wakeUp = done;
      if (woken || !running) done();
    });

  const unrecorded = new Set<number>();
  const loop = (async () => {
    while (running) {
      woken = false;
      let wait = pollMs;
      try {
        const round = await relayOutboxOnce({
          db: database.db,
          platform,
          log: relayLog,
          metrics,
          now,
          ...delivery,
          unrecorded,
        });
        if (round.claimed > 0) continue;
        wait = await untilNextDue(database.db, now(), pollMs);
      } catch (error) {
        metrics.inc(OUTBOX_RELAY_ERRORS);
        relayLog.error("outbox: relay round failed", { error });
      }
      if (running) await sleep(wait);
    }
  })();

  return {
    wake,
    async stop() {
      running = false;
      wakeUp();
      await loop;
      await unlisten?.().catch(() => {});
    },
  };
}

/**
 * Milliseconds until the earliest eligible entry may be tried, at most `pollMs`. A round that
 * found nothing although an entry is due means another replica holds it: look again shortly.
 */
async function untilNextDue(db: Db, at: Date, pollMs: number): Promise<number> {
  const [row] = await db
    .select({ next: min(outbox.nextAttemptAt) })
    .from(outbox)
    .where(eligible());
  const next = row?.next ? new Date(row.next).getTime() - at.getTime() : pollMs;
  return Math.max(MIN_IDLE_MS, Math.min(pollMs, next));
}

const MIN_IDLE_MS = 25;
