import { type Logger, withTimeout } from "@celine/core";
import { createRoute, type RouteHandler, z } from "@hono/zod-openapi";
import type { AppDeps, AppEnv } from "../lib/app-env.ts";
import { createRouter } from "./openapi.ts";

const Check = z.object({ ok: z.boolean(), detail: z.string() });
const Readiness = z
  .object({ status: z.enum(["ok", "unavailable"]), checks: z.object({ database: Check, policy: Check }) })
  .meta({ id: "Readiness" });

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["operations"],
  summary: "Liveness (no token)",
  responses: {
    200: {
      description: "Alive",
      content: { "application/json": { schema: z.object({ status: z.literal("ok") }) } },
    },
  },
});

const ready = createRoute({
  method: "get",
  path: "/ready",
  tags: ["operations"],
  summary: "Readiness: database reachable and the policy deciding (no token)",
  responses: {
    200: { description: "Ready", content: { "application/json": { schema: Readiness } } },
    503: { description: "Not ready", content: { "application/json": { schema: Readiness } } },
  },
});

const metrics = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["operations"],
  summary: "Counters in the Prometheus text format (no token): requests, upstream calls, outbox",
  responses: {
    200: { description: "Prometheus exposition", content: { "text/plain": { schema: z.string() } } },
  },
});

/** How long /ready waits for each check: a probe that cannot answer by then has failed. */
const READY_CHECK_MS = 3_000;

export function healthRoutes(deps: AppDeps) {
  const readyHandler: RouteHandler<typeof ready, AppEnv> = async (c) => {
    // /ready needs no token: what went wrong (hosts, user names, paths, URLs) goes to the log, the
    // answer says only which check failed.
    const log = c.get("log") ?? deps.log;
    const [database, policy] = await Promise.all([
      withTimeout(deps.database.ping(), READY_CHECK_MS, "database ping").then(
        () => ({ ok: true, detail: "reachable" }),
        (error: unknown) => {
          log.warn("readiness: database unreachable", { error });
          return { ok: false, detail: "unreachable" };
        },
      ),
      policyCheck(deps, log),
    ]);
    const ok = database.ok && policy.ok;
    return c.json(
      { status: ok ? ("ok" as const) : ("unavailable" as const), checks: { database, policy } },
      ok ? 200 : 503,
    );
  };
  return createRouter()
    .openapi(health, (c) => c.json({ status: "ok" as const }, 200))
    .openapi(ready, readyHandler)
    .openapi(metrics, (c) =>
      c.text(deps.metrics.render(), 200, { "content-type": "text/plain; version=0.0.4" }),
    );
}

/** The policy loaded and a decision made now (OPA reachable, the evaluator answering). */
async function policyCheck(deps: AppDeps, log: Logger): Promise<{ ok: boolean; detail: string }> {
  if (!deps.policy.loaded) {
    log.warn("readiness: policy not loaded", { detail: deps.policy.detail });
    return { ok: false, detail: "not loaded" };
  }
  const probe = deps.policy.probe;
  if (!probe) return { ok: true, detail: "loaded" };
  const decides = await withTimeout(probe(), READY_CHECK_MS, "policy probe").catch(() => false);
  if (decides) return { ok: true, detail: "evaluated" };
  log.warn("readiness: the policy could not be evaluated", { detail: deps.policy.detail });
  return { ok: false, detail: "cannot be evaluated" };
}
