// `bun run demo`: a whole simulated day against the running dev stack (`bun run dev`), step by
// step — the forecast broadcast, suggestions, an accept, the pre-window reminder, the meter tick
// and its catch-up reminder, the settlement with its baseline, points and the leaderboard. Each
// step checks what must have happened; the first that did not ends the demo with exit code 1.

import { parseArgs } from "node:util";
import { formatHhmm, messageOf, toLocalTime } from "@celine/core";
import {
  type Answer,
  connectDev,
  connectPipelines,
  DemoError,
  type DevClient,
  pollUntil,
} from "./demo-client.ts";
import type { LoggedNudge } from "./nudge-log.ts";

export type DemoOptions = {
  /** The dev stack, e.g. http://127.0.0.1:8017. */
  url: string;
  out?: (line: string) => void;
  /** How long each step waits for its effect (ms). */
  timeoutMs?: number;
};

export type DemoResult = { ok: boolean; steps: number; passed: number; failure: string | null };

type Clock = { now: string; local: string; seeded_day: string };
type Suggestion = {
  id: string;
  period_start: string;
  period_end: string;
  clock_range: string;
  to_is_tomorrow: boolean;
  to_period: string;
  to_time: string;
  impact_kwh_estimated: number | null;
  reward_points: number | null;
  confidence: number | null;
  community_kwh: number;
  target: {
    baseline_kwh: number;
    qualifying_kwh: number;
    points_per_extra_kwh: number;
    streak_multiplier: number;
  } | null;
};
type Progress = {
  settled: boolean;
  as_of: string;
  intervals_total: number;
  intervals_done: number;
  actual_kwh_so_far: number;
  baseline_kwh_so_far: number | null;
  qualifying_kwh: number | null;
  on_track: boolean | null;
  projected_points: number | null;
};
type Explanation = {
  outcome: string;
  points: number;
  raw: number | null;
  config: { points: { rate_per_kwh: number } } | null;
  intervals: {
    start: string;
    baseline_kwh: number | null;
    candidates: { date: string; kwh: number; used: boolean }[];
  }[];
  totals: {
    actual_kwh: number;
    baseline_kwh: number;
    adjusted_baseline_kwh: number;
    shifted_kwh: number;
    shift_fraction: number;
  } | null;
  multipliers: { effort: number; event: number; accuracy: number; streak: number } | null;
  cap: { kind: string } | null;
  ledger: { kind: string; points: number }[];
};
type Commitment = {
  id: string;
  user_id: string;
  status: string;
  suggestion_id: string;
  reward_points_estimated: number;
  reward_points_actual: number | null;
  actual_kwh?: number | string | null;
  baseline_kwh?: number | string | null;
  baseline_days?: number | null;
  delivered_kwh?: number | string | null;
  settlement_outcome?: string | null;
};

/** Who does what in the demo (members of the seeded community; see demo-community.ts). */
const GIULIA = "member-01";
const MARCO = "member-02";
const ALSO_ACCEPT = ["member-03", "member-04", "member-10"];
const DECLINES = "member-05";
const ADMIN_SCOPE = "flexibility.admin";

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const out = opts.out ?? ((line: string) => console.log(line));
  const timeoutMs = opts.timeoutMs ?? 30_000;
  let client: DevClient;
  try {
    client = await connectDev(opts.url);
  } catch (error) {
    const failure = messageOf(error);
    out(`✘ ${failure}`);
    return { ok: false, steps: 0, passed: 0, failure };
  }
  const pipelines = await connectPipelines(client.info);
  const state = {
    day: "",
    windowId: "",
    window: null as Suggestion | null,
    commitments: new Map<string, string>(),
    cursor: 0,
  };
  const memberToken = (sub: string) => client.token("member", sub);
  const tz = client.info.time_zone;

  const steps: Array<{ title: string; run: () => Promise<string[]> }> = [
    {
      title: "A new simulated day",
      async run() {
        const clock = await client.dev<Clock>("POST", "/dev/day", { time: "06:30" });
        state.day = clock.seeded_day;
        state.windowId = `w-${state.day}-1100`;
        state.cursor = (await client.nudgesAfter(0)).last_seq;
        const community = await client.dev<{
          community: { name: string };
          members: unknown[];
          windows: Array<{ id: string; local: string; community_kwh: number }>;
        }>("GET", "/dev/community");
        return [
          `${formatDay(state.day)} at ${community.community.name} (${client.info.time_zone}); clock ${clock.local}`,
          `the Digital Twin holds ${community.members.length} members with smart meters, 3 weeks of hourly readings,`,
          `a solar forecast and the windows ${community.windows.map((w) => `${w.local} (${w.community_kwh} kWh)`).join(", ")}`,
        ];
      },
    },
    {
      title: "06:30  The forecasting pipeline finishes → opportunity broadcast",
      async run() {
        const at = await now(client);
        const runId = await pipelines.publishRun("rec-forecasting-flow", "started", at);
        await pipelines.publishRun("rec-forecasting-flow", "completed", at, runId);
        const nudges = await client.waitForNudges(
          "flexibility_opportunity for all 12 members with an account",
          state.cursor,
          (items) => {
            const found = items.filter((n) => n.event_type === "flexibility_opportunity");
            return new Set(found.map((n) => n.user_id)).size >= 12 ? found : null;
          },
          timeoutMs,
        );
        const giulia = nudges.find((n) => n.user_id === GIULIA);
        const f = giulia?.facts ?? {};
        return [
          `published celine/pipelines/runs/rec-forecasting-flow (started, then completed; only "completed" counts)`,
          `${new Set(nudges.map((n) => n.user_id)).size} members nudged (the registry entry without an account is skipped):`,
          `flexibility_opportunity ${f.window_start}–${f.window_end} on ${f.period}: ${f.estimated_kwh} kWh forecast surplus, ${f.reward_points} points`,
        ];
      },
    },
    {
      title: "08:15  Giulia (member-01) opens the app: GET /api/suggestions",
      async run() {
        await setClock(client, "08:15");
        const res = await client.api("GET", "/api/suggestions", await memberToken(GIULIA));
        const items = expectStatus(res, 200, "GET /api/suggestions") as Suggestion[];
        const window = items.find((s) => s.id === state.windowId);
        if (!window) throw new DemoError(`the window ${state.windowId} is not offered: ${res.text}`);
        state.window = window;
        const target = window.target;
        if (!target) throw new DemoError(`the window ${state.windowId} has no target: ${res.text}`);
        return [
          ...items.map(describeSuggestion),
          `her target for ${window.clock_range}: a baseline of ${target.baseline_kwh} kWh (her own meter, as settlement will compute it);`,
          `  use at least ${target.qualifying_kwh} kWh in the window to earn points, ${target.points_per_extra_kwh} points per kWh above the baseline (streak ×${target.streak_multiplier})`,
        ];
      },
    },
    {
      title: "08:16  Giulia accepts 11:00–14:00: POST /api/suggestions/{id}/respond",
      async run() {
        await setClock(client, "08:16");
        const res = await client.api(
          "POST",
          `/api/suggestions/${state.windowId}/respond`,
          await memberToken(GIULIA),
          { response: "accepted" },
        );
        const body = expectStatus(res, 200, "respond") as {
          commitment_id: string;
          status: string;
          reward_points_estimated: number;
        };
        if (body.status !== "committed") throw new DemoError(`expected status committed: ${res.text}`);
        state.commitments.set(GIULIA, body.commitment_id);
        const [confirmation] = await client.waitForNudges(
          "the flexibility_committed confirmation",
          state.cursor,
          (items) => pick(items, "flexibility_committed", GIULIA),
          timeoutMs,
        );
        const event = await pollUntil(
          "the MQTT event celine/flexibility/committed/member-01",
          () =>
            pipelines
              .committed()
              .find(
                (m) => m.topic.endsWith(`/${GIULIA}`) && m.payload.commitment_id === body.commitment_id,
              ) ?? null,
          { timeoutMs, everyMs: 100 },
        );
        return [
          `commitment ${body.commitment_id}: ${body.status}, ${body.reward_points_estimated} points estimated`,
          `MQTT ${event.topic}: window ${event.payload.window_start} → ${event.payload.window_end}, device ${event.payload.device_id}`,
          `nudge flexibility_committed → ${GIULIA}: ${confirmation?.facts.window_start}–${confirmation?.facts.window_end}, ${confirmation?.facts.reward_points_estimated} points`,
        ];
      },
    },
    {
      title: "08:17  Giulia subscribes her calendar to her commitments: POST /api/calendar/token",
      async run() {
        const id = state.commitments.get(GIULIA);
        if (!id) throw new DemoError("Giulia has no commitment to see in her calendar");
        const minted = await client.api("POST", "/api/calendar/token", await memberToken(GIULIA));
        const { url } = expectStatus(minted, 201, "POST /api/calendar/token") as { url: string };
        // What a calendar app does: GET the URL as it is, no token (the secret in it is the credential).
        const res = await fetch(`${client.info.api}${new URL(url).pathname}`);
        const feed = await res.text();
        if (res.status !== 200) throw new DemoError(`GET ${url}: expected 200, got ${res.status} ${feed}`);
        const event = feed.split("BEGIN:VEVENT").find((e) => e.includes(`UID:${id}@`));
        if (!event) throw new DemoError(`the feed does not hold commitment ${id}:\n${feed}`);
        const summary = /^SUMMARY:(.*)$/m.exec(event)?.[1]?.trim() ?? "";
        if (!event.includes("STATUS:CONFIRMED") || !summary.startsWith("Use more energy 11:00–14:00"))
          throw new DemoError(`Giulia's event is not her confirmed 11:00–14:00 commitment:\n${event}`);
        return [
          url,
          "(Google Calendar: Other calendars → From URL; Apple Calendar: File → New Calendar Subscription;",
          " Outlook: Add calendar → Subscribe from web. The URL is the key: a new one replaces it.)",
          `the feed (${res.headers.get("content-type")}, ETag ${res.headers.get("etag")?.slice(0, 12)}…) holds`,
          `"${summary}" (${/^DTSTART;(.*)$/m.exec(event)?.[1]?.trim()}), a reminder ${/^TRIGGER:(.*)$/m.exec(event)?.[1]?.trim()} before`,
        ];
      },
    },
    {
      title: "08:20  Four more members answer (three accept, one declines)",
      async run() {
        const lines: string[] = [];
        for (const sub of [...ALSO_ACCEPT, DECLINES]) {
          const token = await memberToken(sub);
          // A member answers what they were shown: listing first records the offer.
          expectStatus(await client.api("GET", "/api/suggestions", token), 200, `suggestions for ${sub}`);
          const response = sub === DECLINES ? "declined" : "accepted";
          const res = await client.api("POST", `/api/suggestions/${state.windowId}/respond`, token, {
            response,
          });
          const body = expectStatus(res, 200, `respond for ${sub}`) as {
            commitment_id: string | null;
            status: string;
          };
          const expected = response === "accepted" ? "committed" : "declined";
          if (body.status !== expected) throw new DemoError(`${sub}: expected ${expected}: ${res.text}`);
          if (body.commitment_id) state.commitments.set(sub, body.commitment_id);
          lines.push(
            `${sub} ${response} → ${body.status}${body.commitment_id ? ` (${body.commitment_id})` : ""}`,
          );
        }
        lines.push("(member-10 accepted but will not change their habits: watch their settlement)");
        return lines;
      },
    },
    {
      title: "10:31  30 minutes before the window: the pre-window reminder",
      async run() {
        const cursor = state.cursor;
        await setClock(client, "10:31");
        const [reminder] = await client.waitForNudges(
          "the pre-window flexibility_reminder for member-01",
          cursor,
          (items) => pick(items, "flexibility_reminder", GIULIA),
          timeoutMs,
        );
        const f = reminder?.facts ?? {};
        const others = (await client.nudgesAfter(cursor)).items
          .filter((n) => n.event_type === "flexibility_reminder" && n.user_id !== GIULIA)
          .map((n) => n.user_id);
        return [
          `the outbox held the reminder until window_start − REMINDER_LEAD_MINUTES; advancing the clock released it`,
          `nudge flexibility_reminder → ${GIULIA}: ${f.window_start}–${f.window_end} on ${f.period}, ${f.reward_points_estimated} points (community time)`,
          `also reminded: ${others.join(", ") || "nobody else yet"}`,
        ];
      },
    },
    {
      title: "11:02  An operator records Marco's (member-02) commitment; 11:05 the meter tick reminds him",
      async run() {
        const window = state.window;
        if (!window) throw new DemoError("no window from the suggestions step");
        await setClock(client, "11:02");
        const admin = await client.token("service", "svc-admin", ADMIN_SCOPE);
        const created = await client.api("POST", "/api/commitments", admin, {
          user_id: MARCO,
          suggestion_id: state.windowId,
          period_start: window.period_start,
          period_end: window.period_end,
          community_id: "demo-rec",
          device_id: "meter-m02",
          reward_points_estimated: 24,
        });
        const commitment = expectStatus(created, 201, "POST /api/commitments") as Commitment;
        state.commitments.set(MARCO, commitment.id);
        const cursor = (await client.nudgesAfter(0)).last_seq;
        await setClock(client, "11:05");
        const at = await now(client);
        const runId = await pipelines.publishRun("meters-flow", "started", at);
        await pipelines.publishRun("meters-flow", "completed", at, runId);
        const [reminder] = await client.waitForNudges(
          "the reminder for member-02 after the meter tick",
          cursor,
          (items) => pick(items, "flexibility_reminder", MARCO),
          timeoutMs,
        );
        await Bun.sleep(500);
        const again = (await client.nudgesAfter(cursor)).items.filter(
          (n) => n.event_type === "flexibility_reminder" && n.user_id === GIULIA,
        );
        if (again.length > 0) throw new DemoError("member-01 was reminded twice");
        return [
          `POST /api/commitments (service token, ${ADMIN_SCOPE}) → 201 ${commitment.id}, window already open`,
          `published celine/pipelines/runs/meters-flow (completed)`,
          `nudge flexibility_reminder → ${MARCO}: ${reminder?.facts.window_start}–${reminder?.facts.window_end}; member-01 was not reminded twice`,
        ];
      },
    },
    {
      title: "12:10 and 13:10  Giulia checks how she is doing: GET /api/commitments/{id}/progress",
      async run() {
        const id = state.commitments.get(GIULIA);
        if (!id) throw new DemoError("Giulia has no commitment to follow");
        const token = await memberToken(GIULIA);
        const lines: string[] = [];
        for (const [local, done] of [
          ["12:10", 1],
          ["13:10", 2],
        ] as const) {
          await setClock(client, local);
          const res = await client.api("GET", `/api/commitments/${id}/progress`, token);
          const p = expectStatus(res, 200, "GET /api/commitments/{id}/progress") as Progress;
          if (p.settled || p.intervals_done !== done || p.on_track === null) {
            throw new DemoError(`at ${local} expected ${done} of ${p.intervals_total} hours in: ${res.text}`);
          }
          lines.push(
            `${local}: ${p.intervals_done} of ${p.intervals_total} hours in (readings as of ${localTime(p.as_of, tz)}): ${round2(p.actual_kwh_so_far)} kWh used against a baseline of ${round2(p.baseline_kwh_so_far ?? 0)} kWh → ${p.on_track ? "on track" : "behind"}; at this pace ${p.projected_points} points (the window qualifies from ${p.qualifying_kwh} kWh)`,
          );
        }
        lines.push(
          "the latest hour is read from the Digital Twin at most once a minute per commitment, however often the app asks",
        );
        return lines;
      },
    },
    {
      title: "02:00 next day  The daily flexibility pipeline → settlement against each member's baseline",
      async run() {
        const cursor = (await client.nudgesAfter(0)).last_seq;
        await setClock(client, "02:00", 1);
        const at = await now(client);
        await pipelines.publishRun("rec-flexibility-flow", "completed", at);
        const settledUsers = [...state.commitments.keys()];
        await client.waitForNudges(
          `commitment_settled for ${settledUsers.join(", ")}`,
          cursor,
          (items) => {
            const found = items.filter((n) => n.event_type === "commitment_settled");
            return settledUsers.every((sub) => found.some((n) => n.user_id === sub)) ? found : null;
          },
          timeoutMs,
        );
        const lines = [
          "member      outcome        actual kWh  baseline kWh  shifted kWh  points (estimated)",
        ];
        for (const [sub, id] of state.commitments) {
          const c = await readCommitment(client, sub, id);
          if (c.status !== "settled") throw new DemoError(`${sub}'s commitment is ${c.status}, not settled`);
          lines.push(
            `${sub.padEnd(11)} ${String(c.settlement_outcome ?? "?").padEnd(14)} ${kwh(c.actual_kwh).padStart(10)}  ${kwh(c.baseline_kwh).padStart(12)}  ${kwh(c.delivered_kwh).padStart(11)}  ${String(c.reward_points_actual).padStart(6)} (${c.reward_points_estimated})`,
          );
        }
        const unchanged = state.commitments.get("member-10");
        if (
          unchanged &&
          (await readCommitment(client, "member-10", unchanged)).settlement_outcome !== "not_delivered"
        ) {
          throw new DemoError("member-10 changed nothing, yet was not settled as not_delivered");
        }
        lines.push(
          "baseline = per hour, the mean of the 4 highest of the 7 most recent same-type days (90 days, trimmed at p5/p95), raised by the morning's same-day adjustment",
          "points = round_half_up(min(shifted × 15 × effort × accuracy × streak, cap)); a window qualifies with a shift ≥ 5 % and ≥ 0.05 kW",
        );
        return lines;
      },
    },
    {
      title: "Giulia's points and why: GET /api/points/me, GET /api/commitments/{id}/settlement",
      async run() {
        const token = await memberToken(GIULIA);
        const res = await client.api("GET", "/api/points/me", token);
        const p = expectStatus(res, 200, "GET /api/points/me") as {
          total_points: number;
          level: number;
          next_level_at: number;
          season: { start: string; end: string; points: number };
          streak: { current: number; best: number; multiplier: number };
          counts: Record<string, number>;
          fulfilment_rate: number | null;
        };
        const id = state.commitments.get(GIULIA);
        if (!id) throw new DemoError("Giulia has no commitment to explain");
        const why = expectStatus(
          await client.api("GET", `/api/commitments/${id}/settlement`, token),
          200,
          "GET /api/commitments/{id}/settlement",
        ) as Explanation;
        const totals = why.totals;
        const m = why.multipliers;
        if (!totals || !m) throw new DemoError(`Giulia's settlement has no totals: ${JSON.stringify(why)}`);
        const after = expectStatus(
          await client.api("GET", `/api/commitments/${id}/progress`, token),
          200,
          "GET /api/commitments/{id}/progress",
        ) as Progress;
        if (
          !after.settled ||
          after.actual_kwh_so_far !== totals.actual_kwh ||
          after.baseline_kwh_so_far !== totals.adjusted_baseline_kwh ||
          after.projected_points !== why.points
        ) {
          throw new DemoError(
            `her progress after settlement is not the settlement's: ${JSON.stringify(after)}`,
          );
        }
        const first = why.intervals[0];
        return [
          `total ${p.total_points} points, level ${p.level} (next at ${p.next_level_at}); this season (${localDate(p.season.start, tz)} → ${localDate(p.season.end, tz)}): ${p.season.points}`,
          `weekly streak ${p.streak.current} (best ${p.streak.best}, ×${p.streak.multiplier}); fulfilment ${p.fulfilment_rate === null ? "–" : `${Math.round(p.fulfilment_rate * 100)} %`}; counts ${JSON.stringify(p.counts)}`,
          `why ${why.points} points: ${totals.actual_kwh} kWh actual − ${totals.adjusted_baseline_kwh} kWh baseline = ${totals.shifted_kwh} kWh shifted (${Math.round(totals.shift_fraction * 100)} %)`,
          `  (her progress now shows the same: ${after.actual_kwh_so_far} kWh against ${after.baseline_kwh_so_far}, ${after.projected_points} points; the 08:15 target's baseline was ${state.window?.target?.baseline_kwh} kWh before the same-day adjustment, settlement's ${totals.baseline_kwh})`,
          `  × ${why.config?.points.rate_per_kwh ?? "?"} × effort ${m.effort} × event ${m.event} × accuracy ${round2(m.accuracy)} × streak ${m.streak} = ${round2(why.raw ?? 0)} (cap: ${why.cap?.kind ?? "none"}) → ${why.points} (${why.outcome})`,
          first
            ? `  ${localTime(first.start, tz)} baseline ${first.baseline_kwh} kWh from ${first.candidates
                .filter((c) => c.used)
                .map((c) => `${c.date.slice(5)} ${c.kwh}`)
                .join(
                  ", ",
                )}; ledger ${why.ledger.map((e) => `${e.kind} ${e.points >= 0 ? "+" : ""}${e.points}`).join(", ")}`
            : "  (no intervals)",
        ];
      },
    },
    {
      title: "The community leaderboard: GET /api/leaderboard",
      async run() {
        const res = await client.api("GET", "/api/leaderboard", await memberToken(GIULIA));
        const board = expectStatus(res, 200, "GET /api/leaderboard") as {
          community_id: string;
          entries: Array<{ rank: number; points: number; is_me: boolean }>;
          me: { rank: number | null; points: number; percentile: number | null };
        };
        if (board.entries.length === 0) throw new DemoError(`the leaderboard is empty: ${res.text}`);
        return [
          `${board.community_id}: ${board.entries.map((e) => `#${e.rank} ${e.points}${e.is_me ? " (me)" : ""}`).join("  ")}`,
          `Giulia: rank ${board.me.rank ?? "hidden"}, ${board.me.points} points, percentile ${board.me.percentile ?? "–"}`,
        ];
      },
    },
  ];

  out(`CELINE Flexibility — a simulated day against ${client.info.api}\n`);
  let passed = 0;
  let failure: string | null = null;
  try {
    for (const [i, step] of steps.entries()) {
      out(`${String(i + 1).padStart(2)}. ${step.title}`);
      try {
        const lines = await step.run();
        for (const line of lines) out(`      ${line}`);
        out("    ✔");
        passed += 1;
      } catch (error) {
        failure = `step ${i + 1} (${step.title}): ${messageOf(error)}`;
        out(`    ✘ ${messageOf(error)}`);
        break;
      }
    }
  } finally {
    await pipelines.close().catch(() => {});
  }
  out(
    failure
      ? `\nDemo FAILED: ${passed}/${steps.length} steps passed; ${failure}`
      : `\nDemo passed: ${passed}/${steps.length} steps.`,
  );
  return { ok: failure === null, steps: steps.length, passed, failure };
}

async function now(client: DevClient): Promise<Date> {
  return new Date((await client.dev<Clock>("GET", "/dev/clock")).now);
}

/** Moves the simulated clock to a local time of the simulated day (or `dayOffset` days later). */
function setClock(client: DevClient, local: string, dayOffset = 0): Promise<Clock> {
  return client.dev<Clock>("POST", "/dev/clock", { local, day_offset: dayOffset });
}

function expectStatus(res: Answer, status: number, what: string): unknown {
  if (res.status !== status)
    throw new DemoError(`${what}: expected ${status}, got ${res.status} ${res.text}`);
  return res.json;
}

function pick(items: LoggedNudge[], eventType: string, user: string): LoggedNudge[] | null {
  const found = items.filter((n) => n.event_type === eventType && n.user_id === user);
  return found.length > 0 ? found : null;
}

async function readCommitment(client: DevClient, sub: string, id: string): Promise<Commitment> {
  const res = await client.api("GET", "/api/commitments?limit=200", await client.token("member", sub));
  const list = expectStatus(res, 200, `GET /api/commitments for ${sub}`) as { items: Commitment[] };
  const found = list.items.find((c) => c.id === id);
  if (!found) throw new DemoError(`${sub}'s commitment ${id} is not listed`);
  return found;
}

function describeSuggestion(s: Suggestion): string {
  const when = s.to_is_tomorrow ? `tomorrow ${s.to_time} (shift from ${s.clock_range})` : s.clock_range;
  const personal =
    s.impact_kwh_estimated === null
      ? "no personal estimate"
      : `${s.impact_kwh_estimated} kWh, ${s.reward_points} pts`;
  return `${s.id.padEnd(18)} ${when.padEnd(36)} ${s.to_period.padEnd(12)} ${personal.padEnd(20)} community ${s.community_kwh} kWh, confidence ${s.confidence ?? "–"}`;
}

/** The community-local date of an instant (season bounds are local midnights). */
function localDate(instant: string, timeZone: string): string {
  return toLocalTime(new Date(instant), timeZone).date;
}

/** The community-local clock time of an instant, HH:MM. */
function localTime(instant: string, timeZone: string): string {
  return formatHhmm(toLocalTime(new Date(instant), timeZone));
}

function round2(value: number): number {
  return Math.round(value * 100) / 100;
}

function kwh(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "–";
  const n = Number(value);
  return Number.isFinite(n) ? n.toFixed(2) : String(value);
}

function formatDay(date: string): string {
  return new Intl.DateTimeFormat("en-GB", {
    weekday: "long",
    day: "numeric",
    month: "long",
    year: "numeric",
    timeZone: "UTC",
  }).format(new Date(`${date}T00:00:00Z`));
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { url: { type: "string" }, timeout: { type: "string" } },
  });
  const url = values.url ?? process.env.DEV_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8017}`;
  const result = await runDemo({
    url,
    timeoutMs: values.timeout === undefined ? undefined : Number(values.timeout) * 1000,
  });
  process.exit(result.ok ? 0 : 1);
}
