import { testWebhook, WebhookIdParam, WebhookTestOut } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "post",
  path: "/api/webhooks/{id}/test",
  tags: ["webhooks"],
  summary: "Send a signed `webhook.test` event to one of the caller's subscriptions",
  description:
    "No body. The event goes the way every event goes (signed, retried, counted towards disabling); its `data` is `{ webhook_id }`. 409 when the subscription is disabled.",
  security: SECURED,
  request: { params: WebhookIdParam },
  responses: {
    202: { description: "Queued for delivery", content: { "application/json": { schema: WebhookTestOut } } },
    ...problemResponses(401, 403, 404, 409, 422),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await testWebhook({ ctx: c.var.ctx, input: c.req.valid("param") }), 202);
