import { listSuggestions, SuggestionList } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "get",
  path: "/api/suggestions",
  tags: ["suggestions"],
  summary: "The flexibility windows open to the calling member (at most 8, best first)",
  description:
    "Read from the Digital Twin with the caller's token. Not in a community, or the Digital Twin unavailable → `[]` (never a 5xx).",
  security: SECURED,
  responses: {
    200: { description: "Windows, best first", content: { "application/json": { schema: SuggestionList } } },
    ...problemResponses(401, 403),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await listSuggestions({ ctx: c.var.ctx }), 200);
