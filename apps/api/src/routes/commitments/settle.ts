import { CommitmentIdParam, CommitmentOut, SettleCommitmentInput, settleCommitment } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "patch",
  path: "/api/commitments/{id}/settle",
  tags: ["commitments"],
  summary: "Settle a live commitment by hand (outcome `manual`)",
  security: SECURED,
  request: {
    params: CommitmentIdParam,
    body: { required: true, content: { "application/json": { schema: SettleCommitmentInput } } },
  },
  responses: {
    200: { description: "Settled", content: { "application/json": { schema: CommitmentOut } } },
    ...problemResponses(401, 403, 404, 409, 413, 415, 422),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(
    await settleCommitment({ ctx: c.var.ctx, input: { ...c.req.valid("param"), ...c.req.valid("json") } }),
    200,
  );
