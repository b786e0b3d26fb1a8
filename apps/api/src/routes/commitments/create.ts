import { CommitmentOut, CreateCommitmentInput, createCommitment } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "post",
  path: "/api/commitments",
  tags: ["commitments"],
  summary:
    "Create a commitment (a participant for themselves, to a window published to them; an operator with flexibility.admin on behalf of user_id)",
  security: SECURED,
  request: { body: { required: true, content: { "application/json": { schema: CreateCommitmentInput } } } },
  responses: {
    201: { description: "Created", content: { "application/json": { schema: CommitmentOut } } },
    ...problemResponses(401, 403, 404, 409, 413, 415, 422, 502),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await createCommitment({ ctx: c.var.ctx, input: c.req.valid("json") }), 201);
