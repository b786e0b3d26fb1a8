import { CommitmentIdParam, getSettlement, SettlementExplanation } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "get",
  path: "/api/commitments/{id}/settlement",
  tags: ["commitments"],
  summary: "Why a commitment got its points: every number its settlement used, as stored, and the ledger",
  description:
    "The owner, or a service with read or admin scope. Somebody else's commitment, or one not settled yet, is 404.",
  security: SECURED,
  request: { params: CommitmentIdParam },
  responses: {
    200: {
      description: "The settlement",
      content: { "application/json": { schema: SettlementExplanation } },
    },
    ...problemResponses(401, 403, 404, 422),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await getSettlement({ ctx: c.var.ctx, input: c.req.valid("param") }), 200);
