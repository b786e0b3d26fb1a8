import { CreateWebhookInput, createWebhook, WebhookCreated } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "post",
  path: "/api/webhooks",
  tags: ["webhooks"],
  summary:
    "Subscribe a URL to signed events (a participant: their own; a service with flexibility.admin: a community's)",
  description:
    "Events are POSTed as Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256>`), at least once, in order per commitment, retried with back-off; after 24 h of failures, or a 410, the subscription is disabled. The answer carries the signing secret, shown this once. At most 5 per member (a service: per community). Outside development the URL must be https on public addresses only.",
  security: SECURED,
  request: { body: { required: true, content: { "application/json": { schema: CreateWebhookInput } } } },
  responses: {
    201: {
      description: "Subscribed; the secret is in this answer only",
      content: { "application/json": { schema: WebhookCreated } },
    },
    ...problemResponses(401, 403, 409, 413, 415, 422),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await createWebhook({ ctx: c.var.ctx, input: c.req.valid("json") }), 201);
