import { PointsPreferences, setPointsPreferences } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "put",
  path: "/api/points/me/preferences",
  tags: ["points"],
  summary: "Show or hide the caller on the leaderboard",
  security: SECURED,
  request: {
    body: { required: true, content: { "application/json": { schema: PointsPreferences } } },
  },
  responses: {
    200: { description: "Stored", content: { "application/json": { schema: PointsPreferences } } },
    ...problemResponses(401, 403, 413, 415, 422),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await setPointsPreferences({ ctx: c.var.ctx, input: c.req.valid("json") }), 200);
