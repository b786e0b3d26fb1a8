import type { Metrics } from "@celine/core";
import { metricsRefused, presentsToken } from "@celine/platform/metrics-access";

/**
 * The fetch handler of the metrics port (METRICS_PORT): GET /metrics in the Prometheus text format,
 * behind METRICS_TOKEN when set; anything else 404.
 */
export function metricsFetch(metrics: Metrics, token: string | undefined) {
  return async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    if (pathname !== "/metrics" || (request.method !== "GET" && request.method !== "HEAD")) {
      return new Response(JSON.stringify({ detail: "Not Found" }), {
        status: 404,
        headers: { "content-type": "application/json" },
      });
    }
    if (token && !(await presentsToken(request.headers.get("authorization"), token))) return metricsRefused();
    return new Response(metrics.render(), { headers: { "content-type": "text/plain; version=0.0.4" } });
  };
}
