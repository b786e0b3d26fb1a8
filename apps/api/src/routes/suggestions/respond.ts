import { RespondInput, RespondOut, respondToSuggestion, SuggestionIdParam } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "post",
  path: "/api/suggestions/{id}/respond",
  tags: ["suggestions"],
  summary: "Accept or decline a window published to you (accepting again returns the same commitment)",
  security: SECURED,
  request: {
    params: SuggestionIdParam,
    body: { required: true, content: { "application/json": { schema: RespondInput } } },
  },
  responses: {
    200: { description: "Recorded", content: { "application/json": { schema: RespondOut } } },
    ...problemResponses(401, 403, 404, 409, 413, 415, 422, 502),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(
    await respondToSuggestion({ ctx: c.var.ctx, input: { ...c.req.valid("json"), ...c.req.valid("param") } }),
    200,
  );
