import { type Ctx, runOnce } from "@celine/core";
import type { z } from "zod";
import { HANDLERS, type HandlerName, type RunHandler } from "./handlers/index.ts";
import { PipelineRun } from "./pipeline-run.ts";

// What the listener subscribes to, and what each message is: topic filter → { schema, handler }.
// Filters are written without CELINE_MQTT_TOPIC_PREFIX; the connection adds it.

/** Why a message did or did not lead to work; one counter series per value. */
export type MessageOutcome =
  | "handled"
  /** The run was handled before (a redelivery or a republished event). */
  | "duplicate"
  /** Not JSON, or not the schema. */
  | "malformed"
  /** `started` / `failed`: only completed runs trigger work. */
  | "not_completed"
  /** A flow no handler is configured for. */
  | "unhandled_flow"
  /** The handler threw; the run is not recorded, so a redelivery may retry it. */
  | "failed";

export type Handled = { outcome: MessageOutcome; handler?: string; result?: unknown; error?: unknown };

export type TopicRoute<T> = {
  filter: string;
  schema: z.ZodType<T>;
  handle(args: { ctx: Ctx; message: T }): Promise<Handled>;
};

/** A route with its message type sealed in: parse, then handle. */
export type Route = {
  filter: string;
  accept(ctx: Ctx, payload: unknown): Promise<Handled & { issues?: string }>;
};

export const RUNS_TOPIC = "celine/pipelines/runs/+";

export function createTopics({
  flows,
  handlers = HANDLERS,
}: {
  flows: Record<string, HandlerName>;
  handlers?: Record<HandlerName, RunHandler>;
}): Route[] {
  // Runs of one handler go one at a time in this process: two broadcasts or two settlements at once
  // would only race for the same rows, and a redelivery queued behind its original then finds the
  // run recorded. Different handlers still run side by side (a long broadcast never delays a tick).
  const queues = new Map<HandlerName, Promise<unknown>>();
  function oneAtATime<T>(name: HandlerName, work: () => Promise<T>): Promise<T> {
    const next = (queues.get(name) ?? Promise.resolve()).then(work, work);
    // The queue goes on after a failure; the failure itself is the caller's.
    const settled = next.catch(() => undefined);
    queues.set(name, settled);
    return next;
  }

  return [
    route({
      filter: RUNS_TOPIC,
      schema: PipelineRun,
      async handle({ ctx, message: run }) {
        // A `started` event carries the same flow name; it must not trigger the work.
        if (run.status !== "completed") return { outcome: "not_completed" };
        const name = Object.hasOwn(flows, run.flow) ? flows[run.flow] : undefined;
        if (!name) return { outcome: "unhandled_flow" };
        try {
          const done = await oneAtATime(name, () =>
            runOnce({
              ctx,
              input: { runId: run.run_id, flow: run.flow },
              work: () => handlers[name]({ ctx, run }),
            }),
          );
          return done.ran
            ? { outcome: "handled", handler: name, result: done.result }
            : { outcome: "duplicate", handler: name };
        } catch (error) {
          return { outcome: "failed", handler: name, error };
        }
      },
    }),
  ];
}

function route<T>(r: TopicRoute<T>): Route {
  return {
    filter: r.filter,
    async accept(ctx, payload) {
      const parsed = r.schema.safeParse(payload);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => `${i.path.join(".") || "(message)"}: ${i.message}`);
        return { outcome: "malformed", issues: issues.join("; ") };
      }
      return r.handle({ ctx, message: parsed.data });
    },
  };
}

/** MQTT topic-filter matching (`+` one level, `#` the rest). */
export function matchesFilter(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i += 1) {
    const level = f[i];
    if (level === "#") return true;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}
