import { WEBHOOK_EVENT_BODIES } from "@celine/core";
import { z } from "@hono/zod-openapi";
import { createRouter } from "../openapi.ts";
import * as create from "./create.ts";
import * as remove from "./delete.ts";
import * as list from "./list.ts";
import * as test from "./test.ts";

export const webhooks = createRouter()
  .openapi(create.route, create.handler)
  .openapi(list.route, list.handler)
  .openapi(remove.route, remove.handler)
  .openapi(test.route, test.handler);

/** What a receiver gets (Standard Webhooks): verify the signature over the raw body before anything. */
const DeliveryHeaders = z.object({
  "webhook-id": z.string().meta({
    description: "The message id, the same on every retry and for every subscription: deduplicate on it",
    example: "msg_2f7c1e0a9b3d4c5e8f6a7b8c9d0e1f2a",
  }),
  "webhook-timestamp": z.string().meta({
    description: "Unix seconds of this attempt (reject one far from your clock)",
    example: "1782972000",
  }),
  "webhook-signature": z.string().meta({
    description:
      "`v1,` + base64 HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the secret",
    example: "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
  }),
});

// The events, under the OpenAPI 3.1 document's `webhooks` (they are not routes of this API).
for (const [type, body] of Object.entries(WEBHOOK_EVENT_BODIES)) {
  webhooks.openAPIRegistry.registerWebhook({
    method: "post",
    path: type,
    tags: ["webhooks"],
    summary: `${type}: ${body.description ?? ""}`,
    request: {
      headers: DeliveryHeaders,
      body: { required: true, content: { "application/json": { schema: body } } },
    },
    responses: {
      200: {
        description:
          "Any 2xx: delivered. Anything else, or no answer within 10 s, is retried for up to 24 h.",
      },
      410: { description: "Gone: the subscription is disabled at once" },
    },
  });
}
