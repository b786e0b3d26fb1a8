import { CommitmentIdParam, CommitmentProgress, getProgress } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "get",
  path: "/api/commitments/{id}/progress",
  tags: ["commitments"],
  summary: "How a commitment is doing: readings so far against its baseline, and the points in sight",
  description:
    "The owner, or a service with read or admin scope. Somebody else's commitment, an unknown one, or a cancelled or rejected one is 404. While the window runs, the latest readings are asked of the Digital Twin at most once a minute per commitment; when it does not answer, the stored readings answer and `as_of` says how far they go. Once settled, the settlement's stored figures.",
  security: SECURED,
  request: { params: CommitmentIdParam },
  responses: {
    200: {
      description: "The progress",
      content: { "application/json": { schema: CommitmentProgress } },
    },
    ...problemResponses(401, 403, 404, 422),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await getProgress({ ctx: c.var.ctx, input: c.req.valid("param") }), 200);
