import { CommitmentList, ListCommitmentsQuery, listCommitments } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "get",
  path: "/api/commitments",
  tags: ["commitments"],
  summary: "List one member's commitments, newest first",
  security: SECURED,
  request: { query: ListCommitmentsQuery },
  responses: {
    200: { description: "A page and the total", content: { "application/json": { schema: CommitmentList } } },
    ...problemResponses(401, 403, 422),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await listCommitments({ ctx: c.var.ctx, input: c.req.valid("query") }), 200);
