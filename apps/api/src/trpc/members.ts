import { eraseMember, MemberErasure, MemberIdParam } from "@celine/core";
import { procedure } from "./init.ts";

/** The members procedures (nested under `members.` in the router). */
export const members = {
  erase: procedure
    .input(MemberIdParam)
    .output(MemberErasure)
    .mutation(({ ctx, input }) => eraseMember({ ctx: ctx.verb, input })),
};
