import { z } from "zod";

export const CalendarToken = z
  .object({
    url: z.url().meta({
      description:
        "The member's calendar feed (RFC 5545). Whoever holds this URL reads the feed: it is the credential. Shown once; a new one replaces it and the old one stops working at once.",
      example: "https://flex.example.org/api/calendar/3q2-7wEjH1yX4XbK8v5W0dOZQmNn9PLa6s1tRuVyZcA.ics",
    }),
  })
  .meta({ id: "CalendarToken", description: "A fresh secret address of the caller's calendar feed" });
export type CalendarToken = z.infer<typeof CalendarToken>;

/**
 * The feed's file name as it appears in the URL. Anything that is not a known secret followed by
 * `.ics` is answered 404 by the verb, never 422: a calendar app only needs to know the feed is gone.
 */
export const CalendarFeedParam = z.object({
  feed: z.string().meta({
    param: { name: "feed", in: "path" },
    description: "The secret handed out by `POST /api/calendar/token`, followed by `.ics`",
    example: "3q2-7wEjH1yX4XbK8v5W0dOZQmNn9PLa6s1tRuVyZcA.ics",
  }),
});
export type CalendarFeedParam = z.input<typeof CalendarFeedParam>;
