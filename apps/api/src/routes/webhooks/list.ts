import { listWebhooks, WebhookList } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "get",
  path: "/api/webhooks",
  tags: ["webhooks"],
  summary: "The caller's webhook subscriptions (never their secrets), each enabled or disabled with why",
  security: SECURED,
  responses: {
    200: { description: "Oldest first", content: { "application/json": { schema: WebhookList } } },
    ...problemResponses(401, 403),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await listWebhooks({ ctx: c.var.ctx }), 200);
