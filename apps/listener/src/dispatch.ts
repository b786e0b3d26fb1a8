import { type Ctx, type Logger, type Metrics, settlesWithin } from "@celine/core";
import { prefixTopic } from "@celine/platform";
import { type Handled, matchesFilter, type Route } from "./topics.ts";

export type Dispatcher = {
  /** Handle one message; never throws (a bad message or a failing handler is an outcome). */
  dispatch(topic: string, payload: Uint8Array | string): Promise<Handled>;
  /** Messages being handled right now. */
  inFlight(): number;
  /** Wait until nothing is in flight or `timeoutMs` passed; true when everything finished. */
  drain(timeoutMs: number): Promise<boolean>;
};

/** A context for one message: the system actor, with the run id in every log line. */
export type MakeCtx = (fields: { runId: string | null; topic: string }) => Ctx;

const decoder = new TextDecoder();

export function createDispatcher({
  routes,
  topicPrefix,
  makeCtx,
  log,
  metrics,
}: {
  routes: Route[];
  topicPrefix: string;
  makeCtx: MakeCtx;
  log: Logger;
  metrics: Metrics;
}): Dispatcher {
  const running = new Set<Promise<Handled>>();
  const prefixed = routes.map((r) => ({ ...r, filter: prefixTopic(topicPrefix, r.filter) }));

  async function handle(topic: string, payload: Uint8Array | string): Promise<Handled> {
    const text = typeof payload === "string" ? payload : decoder.decode(payload);
    const target = prefixed.find((r) => matchesFilter(r.filter, topic));
    if (!target) return { outcome: "malformed", result: "no route for the topic" };
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      log.warn("message ignored: not JSON", { topic, payload: text.slice(0, 200) });
      return { outcome: "malformed" };
    }
    const runId = runIdOf(body);
    const ctx = makeCtx({ runId, topic });
    const started = performance.now();
    try {
      const handled = await target.accept(ctx, body);
      if (handled.outcome === "malformed") {
        ctx.log.warn("message ignored: malformed", { topic, issues: handled.issues });
      } else if (handled.outcome === "failed") {
        // The subscription goes on; the run is not recorded, so a redelivery may retry it.
        ctx.log.error("run failed", { topic, handler: handled.handler, error: handled.error });
      } else if (handled.outcome === "handled") {
        ctx.log.info("run handled", { topic, handler: handled.handler, result: handled.result });
      } else {
        ctx.log.debug("message ignored", { topic, outcome: handled.outcome });
      }
      return handled;
    } catch (error) {
      ctx.log.error("run failed", { topic, error });
      return { outcome: "failed" };
    } finally {
      metrics.observe("flexibility_listener_message_seconds", (performance.now() - started) / 1000);
    }
  }

  return {
    dispatch(topic, payload) {
      const work = handle(topic, payload).then((handled) => {
        metrics.inc("flexibility_listener_messages_total", {
          outcome: handled.outcome,
          ...(handled.handler ? { handler: handled.handler } : {}),
        });
        return handled;
      });
      running.add(work);
      void work.finally(() => running.delete(work));
      return work;
    },
    inFlight: () => running.size,
    async drain(timeoutMs) {
      if (running.size === 0) return true;
      return settlesWithin(Promise.allSettled([...running]), timeoutMs);
    },
  };
}

function runIdOf(body: unknown): string | null {
  if (typeof body !== "object" || body === null || !("run_id" in body)) return null;
  const id = (body as { run_id: unknown }).run_id;
  return typeof id === "string" || typeof id === "number" ? String(id) : null;
}
