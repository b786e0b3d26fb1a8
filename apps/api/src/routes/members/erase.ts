import { eraseMember, MemberErasure, MemberIdParam } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "delete",
  path: "/api/members/{user_id}",
  tags: ["members"],
  summary: "Erase everything held about a member (operators: flexibility.admin)",
  description:
    "Commitments, settlements, points ledger, stored meter readings, offers, preferences and outbox entries, in one transaction. A member with nothing held answers all zeros.",
  security: SECURED,
  request: { params: MemberIdParam },
  responses: {
    200: { description: "Rows erased, per kind", content: { "application/json": { schema: MemberErasure } } },
    ...problemResponses(401, 403, 422),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await eraseMember({ ctx: c.var.ctx, input: c.req.valid("param") }), 200);
