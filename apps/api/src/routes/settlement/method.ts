import { getSettlementMethod, SettlementMethodOut } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "get",
  path: "/api/settlement/method",
  tags: ["settlement"],
  summary: "The settlement method in force: baseline, thresholds, tiers, streak, cap and seasons",
  security: SECURED,
  responses: {
    200: { description: "The method", content: { "application/json": { schema: SettlementMethodOut } } },
    ...problemResponses(401, 403),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await getSettlementMethod({ ctx: c.var.ctx }), 200);
