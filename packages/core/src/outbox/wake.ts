import { sql } from "drizzle-orm";
import type { Db } from "../db/database.ts";
import type { Logger } from "../log.ts";
import { OUTBOX_CHANNEL } from "./enqueue.ts";

// Waking the relays after a hot-path commit. A NOTIFY inside a transaction takes a database-wide
// lock from its commit until the commit is on disk, so every notifying transaction commits one
// after the other: measured here, the accept transaction ran at ~560/s with the NOTIFY inside and
// ~1,700/s without (pgbench, 16 clients, bench/accept.bench.ts). Hot paths therefore enqueue
// without notifying and call this after their commit: one NOTIFY in flight per pool, and all the
// commits that happen meanwhile share the next one.

type Waker = { inFlight: boolean; again: boolean };
const wakers = new WeakMap<Db, Waker>();

/**
 * Send one NOTIFY on the outbox channel soon, coalesced with others on the same pool. Fire and
 * forget: if it fails, the relays' polling delivers anyway (within their poll interval).
 */
export function wakeOutbox(db: Db, log?: Logger): void {
  let waker = wakers.get(db);
  if (!waker) {
    waker = { inFlight: false, again: false };
    wakers.set(db, waker);
  }
  if (waker.inFlight) {
    waker.again = true;
    return;
  }
  const state = waker;
  state.inFlight = true;
  void (async () => {
    do {
      state.again = false;
      try {
        await db.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`);
      } catch (error) {
        log?.warn("outbox: NOTIFY failed; relays will find the entries by polling", { error });
        state.again = false;
      }
    } while (state.again);
    state.inFlight = false;
  })();
}
