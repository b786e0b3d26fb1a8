import { getMyPoints, MyPoints } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "get",
  path: "/api/points/me",
  tags: ["points"],
  summary: "The caller's points, level, streak and latest settlements",
  security: SECURED,
  responses: {
    200: { description: "The caller's points", content: { "application/json": { schema: MyPoints } } },
    ...problemResponses(401, 403),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await getMyPoints({ ctx: c.var.ctx }), 200);
