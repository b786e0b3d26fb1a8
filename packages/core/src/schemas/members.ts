import { z } from "zod";

/**
 * A member's id exactly as stored (their token's `sub`). Not trimmed, unlike other ids: erasure must
 * name one member exactly, and " alice" is not "alice". NUL cannot be in PostgreSQL text, and a lone
 * surrogate would reach the database as U+FFFD and could name somebody else: both are refused (422).
 */
const MemberId = z
  .string()
  .min(1)
  .max(255)
  .refine((s) => !s.includes("\u0000"), "must not contain NUL characters")
  .refine((s) => !/\p{Cs}/u.test(s), "must be well-formed Unicode (no lone surrogates)");

export const MemberIdParam = z.object({
  user_id: MemberId.meta({
    param: { name: "user_id", in: "path" },
    description: "The member's id (their token's `sub`), exactly as stored",
    example: "5f0c2b7e-1c9a-4d4e-9a51-0d1f6c3b2a10",
  }),
});
export type MemberIdParam = z.input<typeof MemberIdParam>;

const Erased = z.number().int().min(0);

export const MemberErasure = z
  .object({
    commitments: Erased.meta({ description: "Commitments, whatever their status" }),
    ledger_entries: Erased.meta({ description: "Points ledger entries" }),
    settlements: Erased.meta({ description: "Stored settlement explanations of their commitments" }),
    readings: Erased.meta({ description: "Stored meter reading chunks (each several reading intervals)" }),
    offers: Erased.meta({ description: "Windows offered to them" }),
    preferences: Erased.meta({ description: "0 or 1: their points preferences" }),
    calendar_tokens: Erased.meta({
      description: "0 or 1: their calendar feed's secret (its URL stops working)",
    }),
    webhooks: Erased.meta({ description: "Their webhook subscriptions (nothing more is sent to them)" }),
    outbox: Erased.meta({
      description:
        "Pending and past side effects about them (MQTT events, nudges, held reminders, webhook deliveries)",
    }),
  })
  .meta({
    id: "MemberErasure",
    description: "Rows erased, per kind. All 0 when nothing was held (erasing twice is not an error).",
  });
export type MemberErasure = z.infer<typeof MemberErasure>;
