// Calendar: a member's commitments and offered windows as an RFC 5545 feed at a secret URL.

export { CalendarFeedParam, CalendarToken } from "../schemas/calendar.ts";
export { createCalendarToken } from "./create-calendar-token.ts";
export { getCalendarFeed } from "./get-calendar-feed.ts";
