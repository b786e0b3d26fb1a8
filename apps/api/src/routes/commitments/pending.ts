import { CommitmentOut, PendingQuery, takePendingCommitments } from "@celine/core";
import { createRoute, type RouteHandler, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "get",
  path: "/api/commitments/pending",
  tags: ["commitments"],
  summary: "Claim live commitments whose window is open now and not yet reminded (stamps reminded_at)",
  security: SECURED,
  request: { query: PendingQuery },
  responses: {
    200: {
      description: "Claimed commitments",
      content: { "application/json": { schema: z.array(CommitmentOut) } },
    },
    ...problemResponses(401, 403, 422),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await takePendingCommitments({ ctx: c.var.ctx, input: c.req.valid("query") }), 200);
