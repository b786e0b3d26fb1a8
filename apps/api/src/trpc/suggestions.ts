import {
  listSuggestions,
  RespondInput,
  RespondOut,
  respondToSuggestion,
  SuggestionIdParam,
  SuggestionList,
} from "@celine/core";
import { z } from "zod";
import { procedure } from "./init.ts";

/** The suggestions procedures (nested under `suggestions.` in the router). */
export const suggestions = {
  list: procedure
    .input(z.void())
    .output(SuggestionList)
    .query(({ ctx }) => listSuggestions({ ctx: ctx.verb })),
  respond: procedure
    .input(SuggestionIdParam.extend(RespondInput.shape))
    .output(RespondOut)
    .mutation(({ ctx, input }) => respondToSuggestion({ ctx: ctx.verb, input })),
};
