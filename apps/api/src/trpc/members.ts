import { eraseMember, MemberErasure, MemberIdParam } from "@celine/core";
import { procedure, router } from "./init.ts";

export const membersRouter = router({
  erase: procedure
    .input(MemberIdParam)
    .output(MemberErasure)
    .mutation(({ ctx, input }) => eraseMember({ ctx: ctx.verb, input })),
});
