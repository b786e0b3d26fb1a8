import type { ReceivedNudge } from "@celine/fakes";

/** A nudge the simulated nudging tool accepted, numbered so a reader can ask for what is new. */
export type LoggedNudge = {
  seq: number;
  at: string;
  status: number;
  event_type: string;
  user_id: string;
  community_id: string;
  facts: Record<string, unknown>;
};

export type NudgeLog = {
  record(nudge: ReceivedNudge): LoggedNudge;
  after(seq: number): LoggedNudge[];
  lastSeq(): number;
};

/** Bounded: a dev stack left running for weeks keeps the most recent nudges only. */
const KEPT = 10_000;

export function createNudgeLog(): NudgeLog {
  const entries: LoggedNudge[] = [];
  let seq = 0;
  return {
    record(nudge) {
      seq += 1;
      const entry: LoggedNudge = {
        seq,
        at: nudge.at.toISOString(),
        status: nudge.status,
        event_type: nudge.event.event_type,
        user_id: nudge.event.user_id,
        community_id: nudge.event.community_id,
        facts: nudge.event.facts,
      };
      entries.push(entry);
      if (entries.length > KEPT) entries.splice(0, entries.length - KEPT);
      return entry;
    },
    after: (from) => entries.filter((entry) => entry.seq > from),
    lastSeq: () => seq,
  };
}
