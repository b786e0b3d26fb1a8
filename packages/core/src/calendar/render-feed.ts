// A member's feed as RFC 5545 text, written by ical-generator; the zone's VTIMEZONE comes from
// timezones-ical-library (the IANA rules as iCalendar).
import ical, {
  ICalAlarmType,
  ICalEventStatus,
  ICalEventTransparency,
  type ICalTemporalPlainDateTimeStub,
  type ICalTemporalZonedDateTimeStub,
} from "ical-generator";
import { tzlib_get_ical_block, tzlib_get_timezones } from "timezones-ical-library";
import { zonedClockOf } from "../settlement/zoned-clock.ts";
import type { FeedEvent } from "./feed-events.ts";

/** How often a calendar app is asked to refresh (X-PUBLISHED-TTL / REFRESH-INTERVAL), seconds. */
export const FEED_REFRESH_SECONDS = 3600;

const STATUS = {
  CONFIRMED: ICalEventStatus.CONFIRMED,
  TENTATIVE: ICalEventStatus.TENTATIVE,
  CANCELLED: ICalEventStatus.CANCELLED,
} as const;

export function renderFeed(
  events: FeedEvent[],
  opts: { timeZone: string; reminderLeadMinutes: number },
): string {
  const zone = vtimezoneOf(opts.timeZone);
  const calendar = ical({
    prodId: { company: "CELINE", product: "Flexibility API", language: "EN" },
    name: "Energy flexibility",
    description: "Windows to use more energy in: your commitments and the windows offered to you",
    ttl: FEED_REFRESH_SECONDS,
    // No calendar-wide zone (ical-generator would then write DTSTAMP in it, not in UTC): each event
    // names the zone, and the generator adds its VTIMEZONE once.
    timezone: { name: null, generator: (tzid) => (tzid === zone?.tzid ? zone.block : null) },
  });
  for (const event of events) {
    calendar.createEvent({
      id: event.uid,
      sequence: event.sequence,
      status: STATUS[event.status],
      // Wall-clock times with TZID (UTC with Z when the zone has no VTIMEZONE to go with them).
      start: zone ? wallClock(event.start, zone.tzid, opts.timeZone) : event.start,
      end: zone ? wallClock(event.end, zone.tzid, opts.timeZone) : event.end,
      timezone: zone?.tzid ?? null,
      stamp: event.stamp,
      summary: event.summary,
      description: event.description,
      // A hint, not a meeting: it must not mark the member busy.
      transparency: ICalEventTransparency.TRANSPARENT,
      alarms: event.alarm
        ? [
            {
              type: ICalAlarmType.display,
              trigger: opts.reminderLeadMinutes * 60,
              description: event.summary,
            },
          ]
        : [],
    });
  }
  return calendar.toString();
}

type Vtimezone = { tzid: string; block: string };
const vtimezones = new Map<string, Vtimezone | null>();

/**
 * The zone's VTIMEZONE and the TZID it defines (the library's canonical name for an alias). Null for
 * UTC and for a zone the library does not know: events are then written in UTC, which every client
 * reads without a VTIMEZONE.
 */
function vtimezoneOf(timeZone: string): Vtimezone | null {
  const known = vtimezones.get(timeZone);
  if (known !== undefined) return known;
  let found: Vtimezone | null = null;
  const names = tzlib_get_timezones();
  if (Array.isArray(names) && names.includes(timeZone) && !/^(Etc\/)?(UTC|GMT|Zulu|UCT)$/.test(timeZone)) {
    const [block, tzidLine] = tzlib_get_ical_block(timeZone);
    const tzid = tzidLine?.replace(/^TZID=/, "");
    if (block && tzid) found = { tzid, block };
  }
  vtimezones.set(timeZone, found);
  return found;
}

/**
 * `instant` as the wall-clock time of `timeZone`, shaped as the Temporal ZonedDateTime ical-generator
 * formats (a native Date would be written in the process's own zone, whatever TZID says).
 */
function wallClock(instant: Date, tzid: string, timeZone: string): ICalTemporalZonedDateTimeStub {
  const { date, msOfDay } = zonedClockOf(timeZone).local(instant);
  const [year = 0, month = 0, day = 0] = date.split("-").map(Number);
  const seconds = Math.floor(msOfDay / 1000);
  const fields = {
    year,
    month,
    day,
    hour: Math.floor(seconds / 3600),
    minute: Math.floor((seconds % 3600) / 60),
    second: seconds % 60,
  };
  const text = `${date}T${[fields.hour, fields.minute, fields.second].map((n) => String(n).padStart(2, "0")).join(":")}`;
  const plain: ICalTemporalPlainDateTimeStub = {
    ...fields,
    toPlainDate: () => ({ year, month, day, toJSON: () => date, toString: () => date }),
    toZonedDateTime: () => zoned,
    toJSON: () => text,
    toString: () => text,
  };
  const zoned: ICalTemporalZonedDateTimeStub = {
    ...fields,
    timeZoneId: tzid,
    toPlainDateTime: () => plain,
    withTimeZone: (other) => (other === tzid ? zoned : wallClock(instant, other, other)),
    toInstant: () => ({
      epochMilliseconds: instant.getTime(),
      toJSON: () => instant.toISOString(),
      toString: () => instant.toISOString(),
      toZonedDateTimeISO: (other) => wallClock(instant, other, other),
    }),
    toJSON: () => `${text}[${tzid}]`,
    toString: () => `${text}[${tzid}]`,
  };
  return zoned;
}
