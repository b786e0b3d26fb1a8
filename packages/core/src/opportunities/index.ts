// Opportunities: community-wide windows of surplus announced from the forecast.
export { broadcastOpportunities } from "./broadcast-opportunities.ts";
