import { and, eq } from "drizzle-orm";
import { refuse } from "../authorize.ts";
import type { Ctx } from "../context.ts";
import type { Db } from "../db/database.ts";
import { offers } from "../db/schema.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors.ts";
import type { DtAuth, RawRow } from "../platform/ports.ts";
import { formatInstant, parseInstant } from "../time.ts";
import { buildSuggestions } from "./build-suggestions.ts";
import { parseCommunityWindow, windowKey } from "./dt-rows.ts";
import { offerRowOf } from "./offer-row.ts";
import type { NotOffered } from "./offerable.ts";

/** Points promised when nothing better is known (no personal estimate was offered). */
export const DEFAULT_REWARD_POINTS = 10;

/** A window the Digital Twin publishes for a member, with the terms a commitment to it takes. */
export type PublishedWindow = {
  /** The window's id: the offer's, else the DT row's `_id` (the community row's when both describe it). */
  id: string;
  start: Date;
  end: Date;
  communityId: string | null;
  deviceId: string | null;
  /** The estimate as offered (or as listing would offer it now); no personal estimate → the default. */
  rewardPoints: number;
  /** When the member was first shown the window: the offer's first_offered_at, else now. */
  noticeAt: Date;
  /** Why a commitment to it cannot be made now (it ended, or it is not a window the app offers); null when open. */
  closed: NotOffered | null;
};

/** What the client sent to name the window: its id, and bounds that are only ever used to find it. */
export type WindowHint = { id: string; periodStart?: string | null; periodEnd?: string | null };

type Bounds = { start: Date; end: Date };
type OfferRow = typeof offers.$inferSelect;

/**
 * The window a participant names, as we published it to them — never as the client describes it.
 *
 * In order: the offer on record for (member, id); the client's bounds, validated only now that they
 * are needed; an offer on record with those bounds; else the Digital Twin, asked with the member's
 * own token: their membership and device, then the community's windows and their per-device
 * windows, matched by `_id` or by UTC bounds. A window found there is recorded as an offer (first
 * shown now), so the next answer for it needs no DT call. Nothing matches → NotFoundError "window
 * not found". A DT failure is the adapter's UpstreamError: never a commitment on the client's word.
 */
export async function findWindow(ctx: Ctx, owner: string, hint: WindowHint): Promise<PublishedWindow> {
  const now = ctx.now();
  const byId = await offerOf(ctx.db, owner, { id: hint.id });
  if (byId) return fromOffer(byId, now);
  const bounds = boundsOf(hint);
  const byBounds = bounds ? await offerOf(ctx.db, owner, { bounds }) : undefined;
  if (byBounds) return fromOffer(byBounds, now);
  const published = await searchDigitalTwin(ctx, owner, hint.id, bounds);
  if (!published) {
    throw new NotFoundError(`window not found: ${JSON.stringify(hint.id)} is not a window published for you`);
  }
  return published;
}

/** A commitment needs a window that is still open and one the app offers; otherwise 409. */
export function assertOpen(window: PublishedWindow): void {
  if (window.closed === null) return;
  const span = `${formatInstant(window.start)}–${formatInstant(window.end)}`;
  const why: Record<NotOffered, string> = {
    ended: "has already ended",
    crosses_midnight: "crosses midnight in community time, and is not offered",
    ends_after_21: "ends after 21:00 community time, and is not offered",
    committed: "is already committed",
  };
  throw new ConflictError(`window ${window.id} (${span}) ${why[window.closed]}`);
}

async function offerOf(
  db: Db,
  owner: string,
  by: { id: string } | { bounds: Bounds },
): Promise<OfferRow | undefined> {
  const match =
    "id" in by
      ? eq(offers.windowId, by.id)
      : and(eq(offers.periodStart, by.bounds.start), eq(offers.periodEnd, by.bounds.end));
  const [offer] = await db
    .select()
    .from(offers)
    .where(and(eq(offers.userId, owner), match))
    .limit(1);
  return offer;
}

function fromOffer(offer: OfferRow, now: Date): PublishedWindow {
  return {
    id: offer.windowId,
    start: offer.periodStart,
    end: offer.periodEnd,
    communityId: offer.communityId,
    deviceId: offer.deviceId,
    rewardPoints: offer.rewardPoints ?? DEFAULT_REWARD_POINTS,
    noticeAt: offer.firstOfferedAt,
    // Offers were offerable when listed; only time closes them.
    closed: offer.periodEnd <= now ? "ended" : null,
  };
}

/** The client's bounds when it sent any: both valid instants, end after start (422 otherwise). */
function boundsOf(hint: WindowHint): Bounds | null {
  const blank = (value: string | null | undefined) =>
    value === null || value === undefined || value.trim() === "";
  if (blank(hint.periodStart) && blank(hint.periodEnd)) return null;
  const start = instantField(hint.periodStart, "period_start");
  const end = instantField(hint.periodEnd, "period_end");
  if (end <= start) throw invalid("period_end", "must be after period_start");
  return { start, end };
}

function instantField(value: string | null | undefined, path: string): Date {
  if (value === null || value === undefined || value.trim() === "") {
    throw invalid(path, "required with the other bound to find a window by its bounds");
  }
  const date = parseInstant(value);
  if (!date) throw invalid(path, `not an ISO-8601 date-time: ${JSON.stringify(value)}`);
  return date;
}

function invalid(path: string, message: string): ValidationError {
  return new ValidationError(`${path}: ${message}`, [{ path, message }]);
}

/**
 * The window among the DT's rows for this member, with the estimate listing would show for it
 * (buildSuggestions over that one row and the member's per-device rows).
 */
async function searchDigitalTwin(
  ctx: Ctx,
  owner: string,
  id: string,
  bounds: Bounds | null,
): Promise<PublishedWindow | null> {
  if (ctx.actor.kind !== "participant" || !ctx.credentials) {
    throw refuse(ctx, "respond", "windows are personal: call with the participant's own token");
  }
  const auth: DtAuth = { kind: "user", token: ctx.credentials };
  const { dt } = ctx.platform;
  const [membership, deviceId] = await Promise.all([dt.membership(auth, owner), dt.deviceOf(auth, owner)]);
  const communityId = membership?.community.key ?? null;
  const [communityRows, deviceRows] = await Promise.all([
    communityId ? dt.communityWindows(auth, communityId) : Promise.resolve<RawRow[]>([]),
    deviceId ? dt.deviceWindows(auth, owner, deviceId) : Promise.resolve<RawRow[]>([]),
  ]);
  const row = matchRow(communityRows, deviceRows, id, bounds);
  if (!row) return null;

  const now = ctx.now();
  const built = buildSuggestions({
    communityRows: [row.raw],
    deviceRows,
    committed: new Set(),
    now,
    timeZone: ctx.config.communityTimezone,
    limit: 1,
  });
  const item = built.items[0];
  if (item) {
    await ctx.db
      .insert(offers)
      .values(offerRowOf(item, { userId: owner, communityId, deviceId, now }))
      // A listing that recorded it meanwhile keeps its record (and its first_offered_at).
      .onConflictDoNothing();
  }
  return {
    id: row.id,
    start: row.start,
    end: row.end,
    communityId,
    deviceId,
    rewardPoints: item?.reward_points ?? DEFAULT_REWARD_POINTS,
    noticeAt: now,
    closed: item ? null : (built.excluded[0]?.reason ?? "ended"),
  };
}

type MatchedRow = { raw: RawRow; id: string; start: Date; end: Date };

/**
 * By `_id` first (community rows, then per-device rows), then by UTC bounds. A per-device row
 * that describes a community window (same bounds) stands for that community window, so one
 * window never goes by two ids.
 */
function matchRow(
  communityRows: readonly RawRow[],
  deviceRows: readonly RawRow[],
  id: string,
  bounds: Bounds | null,
): MatchedRow | null {
  const parse = (rows: readonly RawRow[]) =>
    rows.flatMap((raw) => {
      const parsed = parseCommunityWindow(raw);
      return parsed.ok ? [{ raw, ...parsed.value }] : [];
    });
  const community = parse(communityRows);
  const device = parse(deviceRows);
  const key = bounds ? windowKey(bounds) : null;
  const found =
    community.find((w) => w.id === id) ??
    device.find((w) => w.id === id) ??
    (key === null
      ? undefined
      : (community.find((w) => windowKey(w) === key) ?? device.find((w) => windowKey(w) === key)));
  if (!found) return null;
  const canonical = community.find((w) => windowKey(w) === windowKey(found)) ?? found;
  return { raw: canonical.raw, id: canonical.id, start: canonical.start, end: canonical.end };
}
