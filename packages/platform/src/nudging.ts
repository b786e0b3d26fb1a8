import type { NudgeOutcome, Nudging } from "@celine/core";
import type { ServiceClientOptions } from "./http.ts";
import { detailOf, send, statusError, targetOf } from "./http.ts";

// The nudging tool (PLATFORM §4). One attempt per call: an ingest is not safe to repeat blindly
// inside one call (a timed-out ingest may have been created), so retrying is the outbox relay's
// job, with its own backoff and bookkeeping.

/** `scope`: NUDGING_SCOPE; unset → `nudging.ingest`. */
export type NudgingClientOptions = ServiceClientOptions;

const UPSTREAM = "nudging";
const DELIVERED = new Set([200, 202, 204, 409]);
const REJECTED = new Set([400, 422]);

export function createNudgingClient(opts: NudgingClientOptions): Nudging {
  const scope = opts.scope ?? "nudging.ingest";
  const target = targetOf(UPSTREAM, opts);

  return {
    async ingest(event): Promise<NudgeOutcome> {
      const token = await opts.tokens.token(scope);
      const answer = await send(target, {
        method: "POST",
        path: "/admin/ingest-event",
        json: event,
        headers: { authorization: `Bearer ${token}` },
        retries: 0,
      });
      if (DELIVERED.has(answer.status)) return { kind: "delivered", status: answer.status };
      if (REJECTED.has(answer.status)) {
        const detail = detailOf(answer);
        opts.log.error("nudging tool rejected an event", {
          status: answer.status,
          detail,
          event_type: event.event_type,
          user_id: event.user_id,
        });
        return { kind: "rejected", status: answer.status, detail };
      }
      // 401: the token was refused (expired early, rotated); the next attempt gets a fresh one.
      if (answer.status === 401) opts.tokens.invalidate?.(scope);
      // 401/403/404 are configuration, not the event's fault: thrown so the event waits for a fix
      // instead of being parked as our bug.
      throw statusError(UPSTREAM, answer);
    },
  };
}
