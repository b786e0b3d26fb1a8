import type { DigitalTwin, DtRow } from "@celine/fakes";
import { communityRow, deviceRow, seedMember } from "./suggestions-fixtures.ts";

// A participant commits only to a window the Digital Twin publishes for them (POST
// /api/commitments, respond). Suites that create commitments publish their windows here, on the DT
// contract fake, and post the body `publish` answers.

export type PublishOptions = {
  /** The window id (default: a fresh one). */
  id?: string;
  /** Bounds (default: a fresh hour that overlaps no other window published here). */
  start?: string;
  end?: string;
  /** The member's personal estimate; null = a per-device row with a null reward; undefined = 10. */
  reward?: number | null;
  /** Publish the community row only (no per-device estimate). */
  communityOnly?: boolean;
  /** The member's community (default `rec-<sub>`); the member's device is `meter-<sub>`. */
  community?: string;
};

export type PublishedBody = {
  suggestion_id: string;
  period_start: string;
  period_end: string;
};

/**
 * The DT answers one page of windows (100): only the latest this many stay published. A window
 * used once is on record as an offer by then and needs the DT no more.
 */
const DT_PAGE = 100;

let windowCount = 0;

/**
 * Publishes windows on `dt` and seeds each member once (profile, membership, metering device).
 * Fresh windows are whole hours on the day after `now()`, 06:00–18:00 UTC (08:00–20:00 in Rome in
 * summer: offered windows end by 21:00 local), then the days after: never two that overlap, so
 * a member may hold every one of them at once. Keep the fake's data (no `clearData`) while using it.
 */
export function createWindowPublisher(dt: DigitalTwin, now: () => Date = () => new Date()) {
  const communityRows = new Map<string, DtRow[]>();
  const deviceRows = new Map<string, DtRow[]>();
  const communityOf = new Map<string, string>();
  // Per publisher, not per module: bun runs every test file in one process, and a count shared by
  // them all pushed a later file's windows days ahead (past a 7-day calendar feed, for one).
  let slot = 0;

  function member(sub: string, community = `rec-${sub}`): { community: string; device: string } {
    const known = communityOf.get(sub);
    if (known) return { community: known, device: `meter-${sub}` };
    communityOf.set(sub, community);
    seedMember(dt, sub, community, `meter-${sub}`);
    return { community, device: `meter-${sub}` };
  }

  function freshHour(): { start: string; end: string } {
    const day = new Date(now());
    day.setUTCHours(0, 0, 0, 0);
    const start = day.getTime() + (1 + Math.floor(slot / 12)) * 86_400_000 + (6 + (slot % 12)) * 3_600_000;
    slot += 1;
    return { start: new Date(start).toISOString(), end: new Date(start + 3_600_000).toISOString() };
  }

  return {
    /** The member's community and device as the DT answers them (seeding them on first use). */
    member,

    /** Publish a window for `sub` (and its community) and answer the create body naming it. */
    publish(sub: string, options: PublishOptions = {}): PublishedBody {
      const { community } = member(sub, options.community);
      const bounds = options.start && options.end ? { start: options.start, end: options.end } : freshHour();
      windowCount += 1;
      const id = options.id ?? `pw-${windowCount}-${crypto.randomUUID().slice(0, 8)}`;
      const rows = communityRows.get(community) ?? [];
      if (!rows.some((row) => row._id === id)) rows.push(communityRow(id, bounds.start, bounds.end));
      communityRows.set(community, rows.slice(-DT_PAGE));
      dt.setCommunityWindows(community, rows.slice(-DT_PAGE));
      if (!options.communityOnly) {
        const mine = deviceRows.get(sub) ?? [];
        mine.push(
          deviceRow(bounds.start, bounds.end, {
            _id: `dev-${id}`,
            reward_points_estimated: options.reward === undefined ? 10 : options.reward,
          }),
        );
        deviceRows.set(sub, mine.slice(-DT_PAGE));
        dt.setDeviceWindows(sub, mine.slice(-DT_PAGE));
      }
      return { suggestion_id: id, period_start: bounds.start, period_end: bounds.end };
    },
  };
}

export type WindowPublisher = ReturnType<typeof createWindowPublisher>;
