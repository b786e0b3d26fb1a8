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
  summary: "Readiness: database reachable and policy loaded (no token)",
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

export function healthRoutes(deps: AppDeps) {
  const readyHandler: RouteHandler<typeof ready, AppEnv> = async (c) => {
    // /ready needs no token: the driver's message (hosts, user names) goes to the log, not the answer.
    const database = await deps.database.ping().then(
      () => ({ ok: true, detail: "reachable" }),
      (error: unknown) => {
        (c.get("log") ?? deps.log).warn("readiness: database unreachable", { error });
        return { ok: false, detail: "unreachable" };
      },
    );
    const policy = { ok: deps.policy.loaded, detail: deps.policy.detail };
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
