import { deleteWebhook, WebhookIdParam } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "delete",
  path: "/api/webhooks/{id}",
  tags: ["webhooks"],
  summary: "Delete one of the caller's webhook subscriptions (what was still to be sent is dropped)",
  security: SECURED,
  request: { params: WebhookIdParam },
  responses: {
    204: { description: "Deleted" },
    ...problemResponses(401, 403, 404, 422),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) => {
  await deleteWebhook({ ctx: c.var.ctx, input: c.req.valid("param") });
  return c.body(null, 204);
};
