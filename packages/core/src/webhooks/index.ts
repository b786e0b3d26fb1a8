// Webhooks: integrators' subscriptions to events, signed and delivered through the outbox
// (Standard Webhooks).

export {
  CreateWebhookInput,
  WEBHOOK_EVENT_BODIES,
  WebhookCreated,
  WebhookIdParam,
  WebhookList,
  WebhookTestOut,
} from "../schemas/webhooks.ts";
export { createWebhook } from "./create-webhook.ts";
export { deleteWebhook } from "./delete-webhook.ts";
export { listWebhooks } from "./list-webhooks.ts";
export { forbiddenAddress } from "./target.ts";
export { testWebhook } from "./test-webhook.ts";
