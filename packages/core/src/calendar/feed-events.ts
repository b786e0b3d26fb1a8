// What each event of a member's calendar feed says, from stored rows only: the same state always
// renders the same feed (its ETag changes only when something a member sees changed).

import type { CommitmentRow } from "../db/schema.ts";
import { formatHhmm, toLocalTime } from "../settlement/zoned-clock.ts";

export type FeedStatus = "CONFIRMED" | "TENTATIVE" | "CANCELLED";

export type FeedEvent = {
  uid: string;
  /** RFC 5545 SEQUENCE: rises with every change a calendar app must apply over the copy it holds. */
  sequence: number;
  status: FeedStatus;
  start: Date;
  end: Date;
  /** DTSTAMP: when the stored state this event shows last changed (as far as it is recorded). */
  stamp: Date;
  summary: string;
  description: string;
  /** A reminder REMINDER_LEAD_MINUTES before the start (live commitments only). */
  alarm: boolean;
};

export type FeedCommitment = Pick<
  CommitmentRow,
  | "id"
  | "status"
  | "periodStart"
  | "periodEnd"
  | "committedAt"
  | "settledAt"
  | "rewardPointsEstimated"
  | "rewardPointsActual"
  | "settlementRevision"
>;

export type FeedOffer = {
  windowId: string;
  periodStart: Date;
  periodEnd: Date;
  rewardPoints: number | null;
  firstOfferedAt: Date;
};

const EN_DASH = "–";
const DOT = " · ";

/**
 * SEQUENCE from stored state: 0 while live; settled → the settlement revision (1 at the first
 * settlement, +1 for every restatement; at least 1 for rows settled before revisions were kept);
 * cancelled → 1 (only a live commitment can be cancelled: one change after 0). The UID never changes.
 */
export function sequenceOf(row: Pick<FeedCommitment, "status" | "settlementRevision">): number {
  if (row.status === "settled") return Math.max(1, row.settlementRevision);
  if (row.status === "cancelled") return row.settlementRevision + 1;
  return 0;
}

/** A commitment (committed, settled or cancelled) as its event; UID `<commitment id>@<host>`. */
export function commitmentEvent(row: FeedCommitment, host: string, timeZone: string): FeedEvent {
  const what = `Use more energy ${clockRange(row, timeZone)}`;
  const base = {
    uid: `${row.id}@${host}`,
    sequence: sequenceOf(row),
    start: row.periodStart,
    end: row.periodEnd,
  };
  if (row.status === "settled") {
    const earned = row.rewardPointsActual;
    return {
      ...base,
      status: "CONFIRMED",
      stamp: row.settledAt ?? row.committedAt,
      summary: earned === null ? what : `${what}${DOT}${earned === 0 ? "no points" : points(earned)} earned`,
      description:
        earned === null
          ? "Settled."
          : `Settled: ${points(earned)} earned (estimated up to ${points(row.rewardPointsEstimated)}).`,
      alarm: false,
    };
  }
  if (row.status === "cancelled") {
    return {
      ...base,
      status: "CANCELLED",
      // The moment of a cancel is not recorded: the commitment's own time stands (SEQUENCE rose).
      stamp: row.committedAt,
      summary: `Cancelled: ${what}`,
      description: "You cancelled this commitment.",
      alarm: false,
    };
  }
  return {
    ...base,
    status: "CONFIRMED",
    stamp: row.committedAt,
    summary: withEstimate(what, row.rewardPointsEstimated),
    description: `You committed to shift consumption into this window, when the community expects more renewable energy than it uses.${estimateSentence(row.rewardPointsEstimated)}`,
    alarm: true,
  };
}

/**
 * A window offered to the member and not yet answered, as a TENTATIVE event. UID
 * `offer-<sha-256 of member and window, 32 hex>@<host>`: stable, and names neither the member nor
 * the Digital Twin's window id (feeds get shared). Accepting it makes a commitment, a new event with
 * its own UID; the offer's event then leaves the feed.
 */
export function offerEvent(offer: FeedOffer, uidKey: string, host: string, timeZone: string): FeedEvent {
  const what = `Use more energy ${clockRange(offer, timeZone)}`;
  return {
    uid: `offer-${uidKey}@${host}`,
    sequence: 0,
    status: "TENTATIVE",
    start: offer.periodStart,
    end: offer.periodEnd,
    stamp: offer.firstOfferedAt,
    summary: `Offer: ${withEstimate(what, offer.rewardPoints)}`,
    description: `Offered to you: the community expects more renewable energy than it uses in this window. Accept it in the app to commit.${estimateSentence(offer.rewardPoints)}`,
    alarm: false,
  };
}

/** "11:00–14:00" in community time (EN DASH), like the app's labels. */
function clockRange(window: { periodStart: Date; periodEnd: Date }, timeZone: string): string {
  const start = formatHhmm(toLocalTime(window.periodStart, timeZone));
  return `${start}${EN_DASH}${formatHhmm(toLocalTime(window.periodEnd, timeZone))}`;
}

function withEstimate(what: string, estimate: number | null): string {
  return estimate !== null && estimate > 0 ? `${what}${DOT}up to ${points(estimate)}` : what;
}

function estimateSentence(estimate: number | null): string {
  return estimate !== null && estimate > 0 ? ` Estimated reward: up to ${points(estimate)}.` : "";
}

function points(n: number): string {
  return n === 1 ? "1 point" : `${n} points`;
}
