// Suggestions: the flexibility windows offered to a member, and their answer to one.

export {
  RespondInput,
  RespondOut,
  SuggestionIdParam,
  SuggestionItem,
  SuggestionList,
} from "../schemas/suggestions.ts";
export { listSuggestions, SUGGESTIONS_DEGRADED } from "./list-suggestions.ts";
export { respondToSuggestion } from "./respond-to-suggestion.ts";
