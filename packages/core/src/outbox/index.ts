// Outbox: side effects (MQTT events, nudges, held reminders, webhooks) written with the state change
// that caused them, and the relay that delivers them.
export { committedTopic } from "./commitment-entries.ts";
export { WEBHOOK_FAILING_MS } from "./deliver-webhook.ts";
export { OUTBOX_CHANNEL } from "./enqueue.ts";
export {
  DEFAULT_BACKOFF,
  OUTBOX_DELIVERED,
  OUTBOX_DROPPED,
  OUTBOX_FAILED,
  OUTBOX_RELAY_ERRORS,
  OUTBOX_RETRIED,
  type RelayOptions,
  type RelayRound,
  relayOutboxOnce,
  WEBHOOK_BACKOFF,
} from "./relay.ts";
export { type OutboxRelay, startOutboxRelay } from "./relay-loop.ts";
