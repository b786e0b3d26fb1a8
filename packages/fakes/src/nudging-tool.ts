import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import type { TrustedIssuer } from "./bearer-auth.ts";
import { verifyBearer } from "./bearer-auth.ts";
import type { FakeEnv, FaultControls } from "./fault-controls.ts";
import { answerProblem, createFaultControls, readJsonBody, serveFake } from "./fault-controls.ts";
import { describeIssues } from "./schema-errors.ts";

/** Facts each scenario requires (PLATFORM §4); every value is a string. */
export const requiredFacts = {
  flexibility_reminder: ["window_start", "window_end", "reward_points_estimated", "period"],
  flexibility_opportunity: ["window_start", "window_end", "estimated_kwh", "reward_points", "period"],
  flexibility_committed: ["window_start", "window_end", "reward_points_estimated", "period"],
  commitment_settled: ["commitment_id", "actual_kwh", "reward_points_actual", "period"],
} as const;
export type NudgeScenario = keyof typeof requiredFacts;

const factsSchema = z.looseObject({ facts_version: z.literal("1.0"), scenario: z.string() });

// Envelopes are strict: passing this fake proves we send nothing the contract does not name.
const ingestSchema = z.strictObject({
  event_type: z.string().min(1),
  user_id: z.string().min(1),
  community_id: z.string(),
  timestamp: z.iso.datetime({ offset: true, local: true }).optional(),
  payload: z.record(z.string(), z.unknown()).optional(),
  facts: factsSchema,
});

const scheduledSchema = z.strictObject({
  event_type: z.string().min(1),
  user_id: z.string().min(1),
  community_id: z.string().optional(),
  external_key: z.string().min(1),
  trigger_at: z.iso.datetime({ offset: true, local: true }),
  facts: factsSchema,
});

export type IngestEvent = z.infer<typeof ingestSchema>;
export type ScheduledEvent = z.infer<typeof scheduledSchema>;
export type ReceivedNudge = { id: string; status: 200 | 202 | 204; event: IngestEvent; at: Date };
/** What the tool answers to a valid, new event: 200 created, 202 suppressed, 204 no rule fired, 409 deduplicated. */
export type NudgeOutcome = 200 | 202 | 204 | 409;

export type NudgingToolOptions = {
  issuer: TrustedIssuer;
  audience?: string;
  scope?: string;
  /** Called for each accepted event (dev mode prints nudges with it). */
  onEvent?: (nudge: ReceivedNudge) => void;
  port?: number;
};

export type NudgingTool = FaultControls & {
  url: string;
  app: Hono<FakeEnv>;
  close(): Promise<void>;
  /** Accepted ingest events in arrival order (200/202/204; not duplicates, not rejected ones). */
  received(): ReceivedNudge[];
  /** Scheduled events as upserted, keyed by `external_key`. */
  scheduled(): Map<string, ScheduledEvent>;
  /** Answer `status` to the next `times` valid events (default: until `reset()`). */
  respondWith(status: NudgeOutcome, times?: number): void;
  /** Forgets received and scheduled events and the deduplication memory. */
  clearEvents(): void;
};

export async function startNudgingTool(opts: NudgingToolOptions): Promise<NudgingTool> {
  const audience = opts.audience ?? "svc-nudging";
  const scope = opts.scope ?? "nudging.ingest";
  const received: ReceivedNudge[] = [];
  const scheduled = new Map<string, ScheduledEvent>();
  const delivered = new Set<string>();
  let forced: { status: NudgeOutcome; remaining: number } | undefined;
  const faults = createFaultControls({
    onReset: () => {
      forced = undefined;
    },
  });

  async function authorize(c: Context<FakeEnv>): Promise<Response | undefined> {
    const auth = await verifyBearer(c, opts.issuer, { audience });
    if (!auth.ok) return auth.res;
    if (auth.caller.kind !== "service") return answerProblem(403, "service token required");
    if (!auth.caller.scopes.includes(scope)) return answerProblem(403, `scope ${scope} required`);
    return undefined;
  }

  const app = new Hono<FakeEnv>();
  app.use(faults.middleware);

  app.post("/admin/ingest-event", async (c) => {
    const denied = await authorize(c);
    if (denied) return denied;
    const body = readJsonBody(c);
    if (!body.ok) return body.res;
    const parsed = ingestSchema.safeParse(body.value);
    if (!parsed.success) return answerProblem(422, describeIssues(parsed.error));
    const event = parsed.data;
    const factsProblem = checkFacts(event.event_type, event.facts);
    if (factsProblem) return answerProblem(factsProblem.status, factsProblem.detail);

    const day = (event.timestamp ? new Date(parseInstant(event.timestamp)) : new Date())
      .toISOString()
      .slice(0, 10);
    const dedupKey = [event.event_type, event.user_id, event.community_id, day].join("|");
    let status: NudgeOutcome = delivered.has(dedupKey) ? 409 : 200;
    if (forced && forced.remaining > 0) {
      forced.remaining -= 1;
      status = forced.status;
    }
    if (status === 409) return answerProblem(409, "every nudge was deduplicated");
    delivered.add(dedupKey);
    const nudge: ReceivedNudge = { id: crypto.randomUUID(), status, event, at: new Date() };
    received.push(nudge);
    opts.onEvent?.(nudge);
    if (status === 204) return c.body(null, 204);
    if (status === 202) return c.json({ status: "suppressed", created: [], suppressed: [nudge.id] }, 202);
    return c.json({ status: "ok", created: [nudge.id], suppressed: [] }, 200);
  });

  app.post("/admin/scheduled-events", async (c) => {
    const denied = await authorize(c);
    if (denied) return denied;
    const body = readJsonBody(c);
    if (!body.ok) return body.res;
    const parsed = scheduledSchema.safeParse(body.value);
    if (!parsed.success) return answerProblem(422, describeIssues(parsed.error));
    const event = parsed.data;
    const factsProblem = checkFacts(event.event_type, event.facts);
    if (factsProblem) return answerProblem(factsProblem.status, factsProblem.detail);
    scheduled.set(event.external_key, event);
    return c.json({ status: "ok", external_key: event.external_key }, 201);
  });

  return {
    ...serveFake(app, faults, opts.port),
    received: () => [...received],
    scheduled: () => new Map(scheduled),
    respondWith(status, times = Number.POSITIVE_INFINITY) {
      forced = { status, remaining: times };
    },
    clearEvents() {
      received.length = 0;
      scheduled.clear();
      delivered.clear();
    },
  };
}

function checkFacts(
  eventType: string,
  facts: z.infer<typeof factsSchema>,
): { status: 400 | 422; detail: string } | undefined {
  if (!isScenario(eventType)) return { status: 400, detail: `unknown scenario ${eventType}` };
  if (facts.scenario !== eventType) {
    return { status: 422, detail: `facts.scenario (${facts.scenario}) must equal event_type (${eventType})` };
  }
  const missing = requiredFacts[eventType].filter((name) => typeof facts[name] !== "string");
  if (missing.length > 0) {
    return { status: 422, detail: `facts missing or not strings: ${missing.join(", ")}` };
  }
  return undefined;
}

function isScenario(value: string): value is NudgeScenario {
  return Object.hasOwn(requiredFacts, value);
}

function parseInstant(value: string): number {
  return Date.parse(/(Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`);
}
