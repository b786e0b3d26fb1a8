// Suggestions: the flexibility windows offered to a member, and their answer to one.

export {
  DAY_PERIODS,
  DayPeriod,
  RespondInput,
  RespondOut,
  SuggestionIdParam,
  SuggestionItem,
  SuggestionList,
  SuggestionTarget,
} from "../schemas/suggestions.ts";
export { dayPeriodOf, labelWindow, type WindowLabels } from "./labels.ts";
export { listSuggestions, SUGGESTIONS_DEGRADED, SUGGESTIONS_SKIPPED_ROWS } from "./list-suggestions.ts";
export { respondToSuggestion } from "./respond-to-suggestion.ts";
