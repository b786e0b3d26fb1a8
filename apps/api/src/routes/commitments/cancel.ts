import { CommitmentIdParam, cancelCommitment } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "delete",
  path: "/api/commitments/{id}",
  tags: ["commitments"],
  summary: "Cancel a live commitment",
  security: SECURED,
  request: { params: CommitmentIdParam },
  responses: {
    204: { description: "Cancelled" },
    ...problemResponses(401, 403, 404, 409, 422),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) => {
  await cancelCommitment({ ctx: c.var.ctx, input: c.req.valid("param") });
  return c.body(null, 204);
};
