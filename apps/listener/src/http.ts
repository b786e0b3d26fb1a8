import type { Metrics } from "@celine/core";
import { metricsRefused, presentsToken } from "@celine/platform/metrics-access";

// The operational endpoints: /health (the process answers), /ready (it can do its job: broker
// subscribed, database reachable), /metrics (Prometheus text).

export type Readiness = { ready: boolean; checks: Record<string, string> };

export type ProbeServer = { port: number; stop(): Promise<void> };

export function serveProbes({
  port,
  hostname,
  readiness,
  metrics,
  metricsToken,
}: {
  port: number;
  hostname?: string;
  readiness: () => Promise<Readiness>;
  metrics: Metrics;
  /** When set, /metrics answers only `Authorization: Bearer <metricsToken>` (METRICS_TOKEN). */
  metricsToken?: string | undefined;
}): ProbeServer {
  const server = Bun.serve({
    port,
    hostname,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      if (req.method !== "GET" && req.method !== "HEAD") return new Response(null, { status: 405 });
      if (path === "/health") return Response.json({ status: "ok" });
      if (path === "/ready") {
        const state = await readiness();
        return Response.json(
          { status: state.ready ? "ready" : "not_ready", checks: state.checks },
          { status: state.ready ? 200 : 503 },
        );
      }
      if (path === "/metrics") {
        if (metricsToken && !(await presentsToken(req.headers.get("authorization"), metricsToken))) {
          return metricsRefused();
        }
        return new Response(metrics.render(), {
          headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
        });
      }
      return Response.json({ detail: "Not Found" }, { status: 404 });
    },
  });
  return {
    port: server.port ?? port,
    async stop() {
      await server.stop(true);
    },
  };
}
