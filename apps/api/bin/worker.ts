// The API as a Cloudflare Worker module (workerd) from the edge entry (src/edge.ts). Configuration
// is the Worker's string bindings (vars and secrets); PostgreSQL through postgres.js over
// `cloudflare:sockets`, one client per request. `bun run build:edge` bundles it (build-edge.ts) as
// dist/edge/worker.js, the Worker's main module; it needs the `nodejs_compat` flag.
import type { ExecutionContext } from "hono";
import {
  createEdgeApp,
  type EdgeApp,
  type EdgeEnv,
  parseEdgeEnv,
  requestScopedDatabase,
} from "../src/edge.ts";

const scoped = requestScopedDatabase();
// Built on the first request (bindings arrive with requests) and kept for the isolate's life.
let edge: { env: EdgeEnv; app: EdgeApp } | undefined;

export default {
  fetch(request: Request, bindings: Record<string, unknown>, ctx: ExecutionContext): Promise<Response> {
    if (!edge) {
      const env = parseEdgeEnv(bindings);
      edge = { env, app: createEdgeApp(env, scoped.database) };
    }
    const { env, app } = edge;
    return scoped.serve(env, ctx, () => app.fetch(request, bindings, ctx));
  },
};
