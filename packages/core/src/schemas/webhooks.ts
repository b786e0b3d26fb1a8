import { z } from "zod";
import { WEBHOOK_EVENTS } from "../db/schema.ts";
import { CommitmentOut } from "./commitments.ts";
import { Instant, Uuid } from "./common.ts";

/** A member or a service has at most this many subscriptions (a service: per community). */
export const MAX_WEBHOOKS = 5;

export const WebhookEventType = z.enum(WEBHOOK_EVENTS).meta({
  description:
    "`commitment.created|cancelled|settled|restated` carry the commitment as `CommitmentOut`; `window.opportunity` the window a community was told about (`WindowOpportunity`)",
});
export type WebhookEventType = z.infer<typeof WebhookEventType>;

/** What `POST /api/webhooks/{id}/test` sends (never subscribed to: every subscription may be tested). */
export const WEBHOOK_TEST_EVENT = "webhook.test";

const TargetUrl = z
  .url({ protocol: /^https?$/, error: "must be an http(s) URL" })
  .max(2048)
  .refine((url) => !/^[a-z]+:\/\/[^/?#]*@/i.test(url), "must not carry credentials (user:password@)")
  .meta({
    description:
      "Where events are POSTed. Outside development: `https`, on a host that resolves to public addresses only (no loopback, private, link-local, CGNAT or cloud-metadata address; checked again at every delivery).",
    example: "https://home.example.org/hooks/flexibility",
  });

export const CreateWebhookInput = z
  .object({
    url: TargetUrl,
    events: z
      .array(WebhookEventType)
      .min(1)
      .refine((events) => new Set(events).size === events.length, "must not repeat an event")
      .optional()
      .meta({ description: "The events to receive; absent → all five" }),
    community_id: z.string().trim().min(1).max(200).nullish().meta({
      description:
        "Services (flexibility.admin) only, and required for them: the community whose members' events to receive. A participant always subscribes to their own.",
      example: "rec-trento",
    }),
  })
  .meta({ id: "CreateWebhookInput" });
export type CreateWebhookInput = z.input<typeof CreateWebhookInput>;

export const WebhookIdParam = z.object({
  id: Uuid.meta({ param: { name: "id", in: "path" } }),
});
export type WebhookIdParam = z.input<typeof WebhookIdParam>;

export const WebhookOut = z
  .object({
    id: Uuid,
    url: z.string(),
    events: z.array(WebhookEventType),
    user_id: z.string().nullable().meta({ description: "The member it belongs to; null for a community's" }),
    community_id: z
      .string()
      .nullable()
      .meta({ description: "The community a service subscribed to; null for a member's own" }),
    created_at: Instant,
    status: z.enum(["enabled", "disabled"]).meta({
      description:
        "`disabled` after 24 h of failed deliveries, a 410 Gone, or a target that is no longer allowed; nothing more is sent. Delete it and create a new one.",
    }),
    disabled_at: Instant.nullable(),
    disabled_reason: z.string().nullable().meta({ example: "deliveries failed for 24 h: answered 500" }),
  })
  .meta({ id: "Webhook", description: "A webhook subscription (its secret is shown once, at creation)" });
export type WebhookOut = z.infer<typeof WebhookOut>;

export const WebhookCreated = WebhookOut.extend({
  secret: z.string().meta({
    description:
      "The signing secret (Standard Webhooks, `whsec_` + base64): verify every delivery with it. Shown once: it cannot be read again.",
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  }),
}).meta({ id: "WebhookCreated" });
export type WebhookCreated = z.infer<typeof WebhookCreated>;

export const WebhookList = z
  .object({ items: z.array(WebhookOut) })
  .meta({ id: "WebhookList", description: "The caller's subscriptions, oldest first" });
export type WebhookList = z.infer<typeof WebhookList>;

export const WebhookTestOut = z
  .object({
    message_id: z.string().meta({
      description: "The `webhook-id` header the test delivery carries",
      example: "msg_2f7c1e0a9b3d4c5e8f6a7b8c9d0e1f2a",
    }),
  })
  .meta({ id: "WebhookTest", description: "A signed `webhook.test` event is on its way" });
export type WebhookTestOut = z.infer<typeof WebhookTestOut>;

/** The data of `window.opportunity`: what the broadcast announces to a community's members. */
export const WindowOpportunity = z
  .object({
    community_id: z.string(),
    window_start: Instant,
    window_end: Instant,
    estimated_kwh: z.number().meta({ description: "Forecast surplus over the window, kWh (2 decimals)" }),
    reward_points: z.number().int().meta({ description: "estimated_kwh × the points rate, half up" }),
  })
  .meta({ id: "WindowOpportunity" });
export type WindowOpportunity = z.infer<typeof WindowOpportunity>;

const eventOf = <T extends string, D extends z.ZodType>(type: T, data: D, id: string, description: string) =>
  z
    .object({
      type: z.literal(type),
      timestamp: Instant.meta({ description: "When the event happened" }),
      data,
    })
    .meta({ id, description });

/**
 * Each event's body, by type (Standard Webhooks' payload structure, signed as sent; `webhook-id`,
 * `webhook-timestamp` and `webhook-signature` travel as headers): the OpenAPI document's `webhooks`.
 */
export const WEBHOOK_EVENT_BODIES = {
  "commitment.created": eventOf(
    "commitment.created",
    CommitmentOut,
    "CommitmentCreatedEvent",
    "A commitment was made: an accept, or POST /api/commitments (a member's or an operator's)",
  ),
  "commitment.cancelled": eventOf(
    "commitment.cancelled",
    CommitmentOut,
    "CommitmentCancelledEvent",
    "A live commitment was cancelled",
  ),
  "commitment.settled": eventOf(
    "commitment.settled",
    CommitmentOut,
    "CommitmentSettledEvent",
    "A commitment was settled (the daily run, or by hand): its points are in",
  ),
  "commitment.restated": eventOf(
    "commitment.restated",
    CommitmentOut,
    "CommitmentRestatedEvent",
    "Corrected readings changed a settled commitment's points: a new settlement_revision",
  ),
  "window.opportunity": eventOf(
    "window.opportunity",
    WindowOpportunity,
    "WindowOpportunityEvent",
    "The community was told of a window with surplus energy in the next 24 hours",
  ),
  [WEBHOOK_TEST_EVENT]: eventOf(
    WEBHOOK_TEST_EVENT,
    z.object({ webhook_id: Uuid }),
    "WebhookTestEvent",
    "Sent by POST /api/webhooks/{id}/test",
  ),
} as const;
