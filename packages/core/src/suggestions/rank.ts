import type { SuggestionItem } from "../schemas/suggestions.ts";

/** The app shows at most this many windows. */
export const MAX_SUGGESTIONS = 8;

/**
 * Windows with a personal estimate first, by personal impact (kWh) descending; then the others by
 * the community's kWh descending. Ties go to the earlier window, then the smaller id, so the order
 * is total and repeatable.
 */
export function rankSuggestions(items: readonly SuggestionItem[], limit = MAX_SUGGESTIONS): SuggestionItem[] {
  const byStartThenId = (a: SuggestionItem, b: SuggestionItem) =>
    a.period_start.localeCompare(b.period_start) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  const enriched = items
    .filter((i) => i.impact_kwh_estimated !== null)
    .sort(
      (a, b) =>
        (b.impact_kwh_estimated ?? 0) - (a.impact_kwh_estimated ?? 0) ||
        b.community_kwh - a.community_kwh ||
        byStartThenId(a, b),
    );
  const rest = items
    .filter((i) => i.impact_kwh_estimated === null)
    .sort((a, b) => b.community_kwh - a.community_kwh || byStartThenId(a, b));
  return [...enriched, ...rest].slice(0, limit);
}
