import { getLeaderboard, Leaderboard } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "get",
  path: "/api/leaderboard",
  tags: ["points"],
  summary: "This season's leaderboard of the caller's community (top 10, anonymous) and the caller's rank",
  security: SECURED,
  responses: {
    200: { description: "The board", content: { "application/json": { schema: Leaderboard } } },
    ...problemResponses(401, 403, 404, 502),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await getLeaderboard({ ctx: c.var.ctx }), 200);
