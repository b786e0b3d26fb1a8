import { CalendarToken, createCalendarToken } from "@celine/core";
import { createRoute, type RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "post",
  path: "/api/calendar/token",
  tags: ["calendar"],
  summary: "A fresh secret URL of the caller's calendar feed (participants)",
  description:
    "No body. Answers the feed's URL, for Google Calendar, Apple Calendar or Outlook to subscribe to. It replaces the caller's previous URL, which stops working at once. The URL is the credential: only its hash is stored, so it cannot be shown again.",
  security: SECURED,
  responses: {
    201: { description: "The new URL", content: { "application/json": { schema: CalendarToken } } },
    ...problemResponses(401, 403),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) =>
  c.json(await createCalendarToken({ ctx: c.var.ctx }), 201);
