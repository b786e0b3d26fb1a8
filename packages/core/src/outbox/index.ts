// Outbox: side effects (MQTT events, nudges, held reminders, webhooks) written with the state change
// that caused them, and the relay that delivers them.
export { committedTopic } from "./commitment-entries.ts";
export { OUTBOX_CHANNEL } from "./enqueue.ts";
export {
  type RelayOptions,
  relayOutboxOnce,
  WEBHOOK_BACKOFF,
} from "./relay.ts";
export { type OutboxRelay, startOutboxRelay } from "./relay-loop.ts";
