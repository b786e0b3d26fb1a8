import type { offers } from "../db/schema.ts";
import type { SuggestionItem } from "../schemas/suggestions.ts";

/**
 * What a member was shown, as the offers row records it: the item's bounds and figures, where it
 * was offered (community and device as the DT answered at that moment). `first_offered_at` is set
 * on insert only: a later listing moves `offered_at`, never it.
 */
export function offerRowOf(
  item: SuggestionItem,
  where: { userId: string; communityId: string | null; deviceId: string | null; now: Date },
): typeof offers.$inferInsert {
  return {
    userId: where.userId,
    windowId: item.id,
    communityId: where.communityId,
    deviceId: where.deviceId,
    periodStart: new Date(item.period_start),
    periodEnd: new Date(item.period_end),
    rewardPoints: item.reward_points,
    impactKwh: item.impact_kwh_estimated === null ? null : String(item.impact_kwh_estimated),
    communityKwh: String(item.community_kwh),
    offeredAt: where.now,
    firstOfferedAt: where.now,
  };
}
