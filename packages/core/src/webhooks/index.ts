// Webhooks: integrators' subscriptions to events, signed and delivered through the outbox
// (Standard Webhooks).

export {
  CreateWebhookInput,
  MAX_WEBHOOKS,
  WEBHOOK_EVENT_BODIES,
  WEBHOOK_TEST_EVENT,
  WebhookCreated,
  WebhookEventType,
  WebhookIdParam,
  WebhookList,
  WebhookOut,
  WebhookTestOut,
  WindowOpportunity,
} from "../schemas/webhooks.ts";
export { createWebhook } from "./create-webhook.ts";
export { deleteWebhook } from "./delete-webhook.ts";
export { listWebhooks } from "./list-webhooks.ts";
export { forbiddenAddress, targetRefusal } from "./target.ts";
export { testWebhook } from "./test-webhook.ts";
