import type { RawRow } from "../platform/ports.ts";
import type { SuggestionItem } from "../schemas/suggestions.ts";
import { formatInstant } from "../time.ts";
import {
  type CommunityWindow,
  type DeviceWindow,
  parseCommunityWindow,
  parseDeviceWindow,
  windowKey,
} from "./dt-rows.ts";
import { labelWindow } from "./labels.ts";
import { type NotOffered, whyNotOffered } from "./offerable.ts";
import { MAX_SUGGESTIONS, rankSuggestions } from "./rank.ts";

export type SkippedRow = { source: "community" | "device"; reason: string; row: RawRow };

export type BuiltSuggestions = {
  items: SuggestionItem[];
  /** Rows that could not be read (logged by the caller; the rest is served). */
  skipped: SkippedRow[];
  /** Windows read but not offered, and why (for debug logs and tests). */
  excluded: { id: string; reason: NotOffered }[];
};

/**
 * From the DT's community rows and (optional) per-device rows to what the member sees: parse,
 * match each window to its per-device row by UTC bounds, drop what is not offered, label in
 * community time, rank, keep at most 8.
 */
export function buildSuggestions({
  communityRows,
  deviceRows,
  committed,
  now,
  timeZone,
  limit = MAX_SUGGESTIONS,
}: {
  communityRows: readonly RawRow[];
  deviceRows: readonly RawRow[];
  /** Window ids the member holds a live commitment for. */
  committed: ReadonlySet<string>;
  now: Date;
  timeZone: string;
  limit?: number;
}): BuiltSuggestions {
  const skipped: SkippedRow[] = [];
  const excluded: BuiltSuggestions["excluded"] = [];

  const personal = new Map<string, DeviceWindow>();
  for (const row of deviceRows) {
    const parsed = parseDeviceWindow(row);
    if (!parsed.ok) skipped.push({ source: "device", reason: parsed.reason, row });
    else if (!personal.has(windowKey(parsed.value))) personal.set(windowKey(parsed.value), parsed.value);
  }

  const seen = new Set<string>();
  const items: SuggestionItem[] = [];
  for (const row of communityRows) {
    const parsed = parseCommunityWindow(row);
    if (!parsed.ok) {
      skipped.push({ source: "community", reason: parsed.reason, row });
      continue;
    }
    const window = parsed.value;
    if (seen.has(window.id)) {
      skipped.push({ source: "community", reason: `duplicate _id ${window.id}`, row });
      continue;
    }
    seen.add(window.id);
    const reason = whyNotOffered(window, { now, timeZone, committed });
    if (reason) {
      excluded.push({ id: window.id, reason });
      continue;
    }
    items.push(toItem(window, personal.get(windowKey(window)), now, timeZone));
  }
  return { items: rankSuggestions(items, limit), skipped, excluded };
}

/**
 * A per-device row counts as enrichment only when it carries a personal kWh estimate. Without
 * enrichment the personal figures are null (unknown), never 0; with it a missing reward is 0.
 */
function toItem(
  window: CommunityWindow,
  device: DeviceWindow | undefined,
  now: Date,
  timeZone: string,
): SuggestionItem {
  const enriched = device !== undefined && device.estimatedKwh !== null;
  return {
    id: window.id,
    suggestion_type: "shift-consumption",
    period_start: formatInstant(window.start),
    period_end: formatInstant(window.end),
    ...labelWindow(window, now, timeZone),
    impact_kwh_estimated: enriched ? device.estimatedKwh : null,
    reward_points: enriched ? (device.rewardPoints ?? 0) : null,
    confidence: enriched ? device.confidence : window.confidence,
    // community_kwh is a number on the wire: a junk value shows as 0 and sorts last.
    community_kwh: window.communityKwh ?? 0,
    // The target needs the member's stored readings: listSuggestions fills it in.
    target: null,
  };
}
