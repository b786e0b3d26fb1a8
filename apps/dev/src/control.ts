// Dev-only endpoints under /dev on the API's port, served by `bun run dev` and never by the API
// itself: mint tokens with the dev issuer, read what the simulated nudging tool received, move
// the simulated clock and start a simulated day. Loopback callers only (see stack.ts).
import { addDays, formatHhmm, toLocalTime } from "@celine/core";
import type { DigitalTwin, NudgingTool } from "@celine/fakes";
import { Hono } from "hono";
import { z } from "zod";
import { DEMO_COMMUNITY, DEMO_MEMBERS, demoWindows, seedDigitalTwin } from "./demo-community.ts";
import type { DevClock } from "./dev-clock.ts";
import type { DevIssuer, MintRequest } from "./dev-issuer.ts";
import type { NudgeLog } from "./nudge-log.ts";
import { zonedInstant } from "./zoned-time.ts";

/** Where everything runs; `GET /dev` answers it (the demo and dev:token read it). */
export type DevInfo = {
  api: string;
  docs: string;
  issuer: string;
  token_endpoint: string;
  jwks: string;
  digital_twin: string;
  nudging: string;
  registry: string;
  broker: { url: string; topic_prefix: string };
  listener: { probes: string | null };
  data_dir: string | null;
  time_zone: string;
};

export type ControlDeps = {
  info: DevInfo;
  issuer: DevIssuer;
  clock: DevClock;
  dt: DigitalTwin;
  nudging: NudgingTool;
  nudges: NudgeLog;
  /** Wakes the outbox relay, whose next due entry may have moved with the clock. */
  wakeRelay(): Promise<void>;
  /** The simulated day the Digital Twin is seeded around (local date). */
  seededDay: { current: string };
  /** Stores the demo members' readings their targets read (after the DT is seeded and the clock moved). */
  prefillReadings(day: string): Promise<void>;
};

const LocalDate = z.iso.date();
const LocalTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "HH:MM (24 h)");

const TokenRequest = z.strictObject({
  kind: z.enum(["member", "service"]).default("member"),
  /** Member: the subject (default member-01). Service: the client id (default svc-admin). */
  sub: z.string().min(1).optional(),
  /** Space-separated scopes; a service defaults to flexibility.admin. */
  scope: z.string().optional(),
  ttl_seconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 86_400)
    .optional(),
});

const DayRequest = z.strictObject({
  /** Local date; default the day after the simulated today. */
  date: LocalDate.optional(),
  /** Local time the clock is set to; default 07:00. */
  time: LocalTime.default("07:00"),
});

const ClockRequest = z.union([
  z.strictObject({ at: z.iso.datetime({ offset: true }) }),
  z.strictObject({
    /** Local time on the simulated day (the seeded one), or `day_offset` days after it. */
    local: LocalTime,
    day_offset: z.number().int().min(0).max(366).default(0),
  }),
]);

export function createControlApp(deps: ControlDeps) {
  const { clock, info } = deps;
  const tz = info.time_zone;
  const app = new Hono();

  const clockState = () => {
    const now = clock.now();
    const local = toLocalTime(now, tz);
    return {
      now: now.toISOString(),
      local: `${local.date} ${formatHhmm(local)}`,
      time_zone: tz,
      offset_ms: clock.offsetMs(),
      seeded_day: deps.seededDay.current,
    };
  };

  const readBody = async <T extends z.ZodType>(req: Request, schema: T) => {
    const text = await req.text();
    let value: unknown = {};
    try {
      value = text.trim() === "" ? {} : JSON.parse(text);
    } catch {
      return { ok: false as const, detail: "body is not JSON" };
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      return {
        ok: false as const,
        detail: parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "),
      };
    }
    return { ok: true as const, value: parsed.data as z.output<T> };
  };
  const invalid = (detail: string) =>
    new Response(JSON.stringify({ detail }), {
      status: 422,
      headers: { "content-type": "application/problem+json" },
    });

  app.get("/dev", (c) => c.json({ ...info, clock: clockState() }));
  app.get("/dev/jwks", (c) => c.json(deps.issuer.jwks()));

  app.post("/dev/token", async (c) => {
    const body = await readBody(c.req.raw, TokenRequest);
    if (!body.ok) return invalid(body.detail);
    const { kind, sub, scope, ttl_seconds } = body.value;
    const scopes = (scope ?? "").split(/\s+/).filter((s) => s !== "");
    const request: MintRequest =
      kind === "member"
        ? { kind, sub: sub ?? "member-01", scopes, ttlSeconds: ttl_seconds }
        : {
            kind,
            clientId: sub ?? "svc-admin",
            scopes: scopes.length > 0 ? scopes : ["flexibility.admin"],
            ttlSeconds: ttl_seconds,
          };
    const minted = await deps.issuer.mint(request);
    const path =
      kind === "member"
        ? "/api/suggestions"
        : scopes.includes("flexibility.commitments.export")
          ? "/api/commitments/export"
          : "/api/commitments?user_id=member-01";
    return c.json({
      kind,
      sub: minted.sub,
      scope: request.scopes?.join(" ") ?? "",
      expires_in: minted.expiresIn,
      token: minted.token,
      curl: `curl -s -H "Authorization: Bearer ${minted.token}" ${info.api}${path}`,
    });
  });

  app.get("/dev/nudges", (c) => {
    const after = Number(c.req.query("after") ?? "0");
    const items = deps.nudges.after(Number.isFinite(after) ? after : 0);
    return c.json({ items, last_seq: deps.nudges.lastSeq() });
  });

  app.get("/dev/clock", (c) => c.json(clockState()));
  app.post("/dev/clock", async (c) => {
    const body = await readBody(c.req.raw, ClockRequest);
    if (!body.ok) return invalid(body.detail);
    const request = body.value;
    const at =
      "at" in request
        ? new Date(request.at)
        : zonedInstant(addDays(deps.seededDay.current, request.day_offset), request.local, tz);
    await clock.set(at);
    await deps.wakeRelay();
    return c.json(clockState());
  });

  app.get("/dev/community", (c) =>
    c.json({
      community: DEMO_COMMUNITY,
      members: DEMO_MEMBERS.map(({ sub, name, role, area, device, shifts, enriched }) => ({
        sub,
        name,
        role,
        area,
        device,
        shifts_on_seeded_day: shifts,
        per_device_windows: enriched,
      })),
      seeded_day: deps.seededDay.current,
      windows: demoWindows(deps.seededDay.current, tz).map((w) => ({
        id: w.id,
        local: `${w.date} ${w.from}–${w.to}`,
        start: w.start.toISOString(),
        end: w.end.toISOString(),
        community_kwh: w.communityKwh,
      })),
    }),
  );

  // A new simulated day: the DT is reseeded around it (history, windows, forecast, readings), the
  // nudging tool forgets its per-day deduplication, the clock moves to the morning of it, and the
  // meter store is filled from the new seeding (targets read stored readings only).
  app.post("/dev/day", async (c) => {
    const body = await readBody(c.req.raw, DayRequest);
    if (!body.ok) return invalid(body.detail);
    const day = body.value.date ?? addDays(toLocalTime(clock.now(), tz).date, 1);
    seedDigitalTwin(deps.dt, { day, timeZone: tz });
    deps.seededDay.current = day;
    deps.nudging.clearEvents();
    await clock.set(zonedInstant(day, body.value.time, tz));
    await deps.prefillReadings(day);
    await deps.wakeRelay();
    return c.json(clockState());
  });

  app.notFound((c) => c.json({ detail: `no dev endpoint ${c.req.method} ${c.req.path}` }, 404));
  return app;
}
