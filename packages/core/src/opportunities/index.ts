// Opportunities: community-wide windows of surplus announced from the forecast.
export {
  BROADCAST_HORIZON_HOURS,
  type BroadcastSummary,
  broadcastOpportunities,
  type CommunityOutcome,
} from "./broadcast-opportunities.ts";
