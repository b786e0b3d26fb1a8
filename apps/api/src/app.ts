import type { Ctx } from "@celine/core";
import { trpcServer } from "@hono/trpc-server";
import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { requestId } from "hono/request-id";
import { routePath } from "hono/route";
import type { AppDeps } from "./lib/app-env.ts";
import { anonymousContextFor, contextFor } from "./lib/authenticate.ts";
import { mountDocs } from "./lib/docs.ts";
import { DATABASE_RETRY_AFTER_SECONDS, toProblem } from "./lib/errors.ts";
import { problem } from "./lib/problem.ts";
import { isFeedRequest } from "./routes/calendar/feed.ts";
import { calendar } from "./routes/calendar/index.ts";
import { commitments } from "./routes/commitments/index.ts";
import { healthRoutes } from "./routes/health.ts";
import { members } from "./routes/members/index.ts";
import { createRouter } from "./routes/openapi.ts";
import { points } from "./routes/points/index.ts";
import { settlement } from "./routes/settlement/index.ts";
import { suggestions } from "./routes/suggestions/index.ts";
import { webhooks } from "./routes/webhooks/index.ts";
import { appRouter } from "./trpc/router.ts";

const MAX_BODY_BYTES = 64 * 1024;

/**
 * The whole API as a web-standard `fetch` handler. Everything runtime-specific (serving, files,
 * the database driver) arrives through `deps`.
 */
export function createApp(deps: AppDeps) {
  const app = createRouter();

  app.use(requestId({ headerName: "x-request-id" }));
  app.use(async (c, next) => {
    const log = deps.log.child({ request_id: c.get("requestId") });
    c.set("log", log);
    c.set("collectGarbage", deps.collectGarbage);
    const started = performance.now();
    await next();
    const ms = performance.now() - started;
    // Label by the matched route pattern, not the raw path: ids must not explode the series.
    const route = routePath(c, -1);
    deps.metrics.inc("http_requests_total", { method: c.req.method, route, status: String(c.res.status) });
    deps.metrics.observe("http_request_seconds", ms / 1000, { method: c.req.method, route });
    log.info("request", {
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      ms: Math.round(ms * 10) / 10,
    });
  });
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => problem(c, 413, `request body exceeds ${MAX_BODY_BYTES} bytes`),
    }),
  );
  app.use("/api/*", async (c, next) => {
    c.set(
      "ctx",
      // A calendar feed's secret is its credential: calendar apps send no token.
      isFeedRequest(c.req.method, c.req.path)
        ? anonymousContextFor(deps, c.get("requestId"))
        : await contextFor(
            deps,
            { headers: c.req.raw.headers, method: c.req.method, path: c.req.path },
            c.get("requestId"),
          ),
    );
    if (takesBody(c) && sendsBody(c) && !isJson(c.req.header("content-type"))) {
      return problem(c, 415, "send the request body as application/json");
    }
    await next();
  });
  app.use(
    "/trpc/*",
    trpcServer({
      endpoint: "/trpc",
      router: appRouter,
      createContext: (_opts, c) => {
        let verified: Promise<Ctx> | undefined;
        const request = { headers: c.req.raw.headers, method: c.req.method, path: c.req.path };
        return {
          resolve: () => {
            verified ??= contextFor(deps, request, c.get("requestId"));
            return verified;
          },
          requestId: c.get("requestId"),
        };
      },
      // A database outage answers 503 (SERVICE_UNAVAILABLE): ask the client to come back, as REST does.
      responseMeta: ({ errors }) =>
        errors.some((e) => e.code === "SERVICE_UNAVAILABLE")
          ? { headers: { "retry-after": String(DATABASE_RETRY_AFTER_SECONDS) } }
          : {},
      onError: ({ error, path, ctx }) => {
        if (error.code === "INTERNAL_SERVER_ERROR")
          deps.log.error("trpc error", { path, request_id: ctx?.requestId, error: error.cause ?? error });
      },
    }),
  );

  const routes = app
    .route("/", healthRoutes(deps))
    .route("/", commitments)
    .route("/", suggestions)
    .route("/", points)
    .route("/", settlement)
    .route("/", members)
    .route("/", calendar())
    .route("/", webhooks);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "proxyToken", {
    type: "apiKey",
    in: "header",
    name: deps.jwtHeaderName,
    description: "The raw JWT as forwarded by oauth2-proxy (takes precedence over Authorization)",
  });
  if (deps.docs) {
    app.doc31("/openapi.json", {
      openapi: "3.1.0",
      info: {
        title: "CELINE Flexibility API",
        version: "1.0.0",
        description:
          "Flexibility suggestions, commitments, settlement and points for Renewable Energy Communities.",
        license: { name: "Apache-2.0" },
      },
    });
    mountDocs(app, deps);
  }

  app.notFound((c) => problem(c, 404, `no route for ${c.req.method} ${c.req.path}`));
  app.onError((error, c) => toProblem(error, c, c.get("log") ?? deps.log));
  return routes;
}

export type AppType = ReturnType<typeof createApp>;

/** A POST, PUT or PATCH of this API takes a JSON body, if any (POST /api/calendar/token takes none). */
function takesBody(c: Context): boolean {
  return c.req.method === "POST" || c.req.method === "PUT" || c.req.method === "PATCH";
}

/** Whether the request carries a body at all: one sent without a content type is still refused. */
function sendsBody(c: Context): boolean {
  return c.req.raw.body !== null && c.req.header("content-length") !== "0";
}

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/([\w.+-]*\+)?json\s*(;|$)/i.test(contentType);
}
