import { formatInstant } from "../time.ts";

/**
 * A webhook delivery as the outbox holds it (payload of a `webhook` entry): the Standard Webhooks
 * message id and the body, serialised once so that every attempt — and every subscription it goes
 * to — signs and sends the same bytes under the same id (receivers deduplicate on `webhook-id`).
 */
export type QueuedWebhookMessage = { id: string; type: string; body: string };

/** `{type, timestamp, data}` (Standard Webhooks' payload structure) under a fresh message id. */
export function webhookMessage(type: string, data: unknown, at: Date): QueuedWebhookMessage {
  return {
    id: `msg_${crypto.randomUUID().replaceAll("-", "")}`,
    type,
    body: JSON.stringify({ type, timestamp: formatInstant(at), data }),
  };
}

/** The queued message of an outbox payload; null when it is not one (never written by us). */
export function queuedMessageOf(payload: unknown): QueuedWebhookMessage | null {
  if (typeof payload !== "object" || payload === null) return null;
  const { id, type, body } = payload as Record<string, unknown>;
  return typeof id === "string" && typeof type === "string" && typeof body === "string"
    ? { id, type, body }
    : null;
}
