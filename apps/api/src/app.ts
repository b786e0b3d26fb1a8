import type { Ctx } from "@celine/core";
import { presentsToken } from "@celine/platform/metrics-access";
import { trpcServer } from "@hono/trpc-server";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { routePath } from "hono/route";
import { secureHeaders } from "hono/secure-headers";
import type { AppDeps, AppEnv } from "./lib/app-env.ts";
import { anonymousContextFor, contextFor } from "./lib/authenticate.ts";
import { clientAddressOf } from "./lib/client-address.ts";
import { mountDocs } from "./lib/docs.ts";
import { DATABASE_RETRY_AFTER_SECONDS, toProblem } from "./lib/errors.ts";
import { problem } from "./lib/problem.ts";
import {
  createLimiter,
  DEFAULT_TRPC_MAX_BATCH_SIZE,
  restClassOf,
  tooManyRequests,
  trpcClassOf,
} from "./lib/rate-limit.ts";
import { auditUnrecorded } from "./lib/refusals.ts";
import { requestIds } from "./lib/request-id.ts";
import { feedOf } from "./routes/calendar/feed.ts";
import { calendar } from "./routes/calendar/index.ts";
import { commitments } from "./routes/commitments/index.ts";
import { healthRoutes } from "./routes/health.ts";
import { members } from "./routes/members/index.ts";
import { createRouter } from "./routes/openapi.ts";
import { points } from "./routes/points/index.ts";
import { settlement } from "./routes/settlement/index.ts";
import { suggestions } from "./routes/suggestions/index.ts";
import { webhooks } from "./routes/webhooks/index.ts";
import type { TrpcContext } from "./trpc/init.ts";
import { appRouter } from "./trpc/router.ts";

const MAX_BODY_BYTES = 64 * 1024;

/**
 * The whole API as a web-standard `fetch` handler. Everything runtime-specific (serving, files,
 * the database driver) arrives through `deps`.
 */
export function createApp(deps: AppDeps) {
  const app = createRouter();
  const limiter = deps.rateLimits ? createLimiter(deps.rateLimits, deps.metrics) : null;
  const addressOf = (c: Context) => clientAddressOf(c, deps.rateLimits?.clientIpHeader, deps.socketAddress);
  /** The request's audit logger: the client's own request id beside ours, when it sent a safe one. */
  const auditOf = (c: Context) => {
    const clientRequestId = c.get("clientRequestId");
    return clientRequestId ? deps.audit.child({ client_request_id: clientRequestId }) : deps.audit;
  };
  /** The refusal of a caller without identity (an address or a feed over its limit), audited. */
  const auditAnonymous = (c: Context) => (refusal: { action: string; reason: string }) =>
    auditOf(c).warn("access denied", {
      event: "denied",
      action: refusal.action,
      sub: null,
      client_id: null,
      reason: refusal.reason,
      request_id: c.get("requestId"),
    });
  /** The verified caller's verb context; a refusal (401, audited) also counts against the client's address. */
  const authenticate = async (c: Context): Promise<Ctx> => {
    const request = { headers: c.req.raw.headers, method: c.req.method, path: c.req.path };
    try {
      // The request's own loggers: the verbs' lines carry the client's request id too.
      return await contextFor({ ...deps, log: c.get("log"), audit: auditOf(c) }, request, c.get("requestId"));
    } catch (error) {
      await limiter?.chargeAddress(addressOf(c));
      throw error;
    }
  };

  app.use(requestIds());
  app.use(async (c, next) => {
    const clientRequestId = c.get("clientRequestId");
    const log = deps.log.child({
      request_id: c.get("requestId"),
      ...(clientRequestId ? { client_request_id: clientRequestId } : {}),
    });
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
  // On every answer, errors included: no sniffing, no referrer, never inside a frame.
  app.use(secureHeaders({ xFrameOptions: "DENY", contentSecurityPolicy: { frameAncestors: ["'none'"] } }));
  // Answers to a caller's credentials are theirs alone: no cache keeps them (the feed sets its own).
  app.use("/api/*", noStore);
  app.use("/trpc/*", noStore);
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => problem(c, 413, `request body exceeds ${MAX_BODY_BYTES} bytes`),
    }),
  );
  app.use("/metrics", async (c, next) => {
    const access = deps.metricsAccess;
    if (access?.elsewhere) return problem(c, 404, `no route for ${c.req.method} ${c.req.path}`);
    if (access?.token && !(await presentsToken(c.req.header("authorization"), access.token))) {
      return problem(c, 401, "metrics need Authorization: Bearer <METRICS_TOKEN>");
    }
    await next();
  });
  // An address that keeps failing to authenticate is refused before its tokens are even looked at.
  const gate: MiddlewareHandler<AppEnv> = async (c, next) => {
    const action = `${c.req.method} ${c.req.path}`;
    const wait = (await limiter?.blockedAddress(addressOf(c), auditAnonymous(c), action)) ?? 0;
    if (wait > 0) return tooManyRequests(c, wait);
    await next();
  };
  app.use("/api/*", gate);
  app.use("/trpc/*", gate);
  app.use("/api/*", async (c, next) => {
    // A calendar feed's secret is its credential: calendar apps send no token.
    const feed = feedOf(c.req.method, c.req.path);
    const ctx =
      feed !== null
        ? anonymousContextFor({ ...deps, log: c.get("log"), audit: auditOf(c) }, c.get("requestId"))
        : await authenticate(c);
    c.set("ctx", ctx);
    if (limiter) {
      const action = `${c.req.method} ${c.req.path}`;
      const wait =
        feed !== null
          ? await limiter.admitFeed(feed, auditAnonymous(c), action)
          : await limiter.admit(ctx, restClassOf(c.req.method, c.req.path), action);
      if (wait > 0) return tooManyRequests(c, wait);
    }
    if (takesBody(c) && sendsBody(c) && !isJson(c.req.header("content-type"))) {
      return problem(c, 415, "send the request body as application/json");
    }
    await next();
    // An unknown feed is a wrong credential: it counts against the address like a 401.
    if (feed !== null && c.res.status === 404) await limiter?.chargeAddress(addressOf(c));
  });
  app.use(
    "/trpc/*",
    trpcServer({
      endpoint: "/trpc",
      router: appRouter,
      // One request may not call more procedures than this (a batch of 300 creates was one request).
      maxBatchSize: deps.trpcMaxBatchSize ?? DEFAULT_TRPC_MAX_BATCH_SIZE,
      createContext: (_opts, c): TrpcContext => {
        let verified: Promise<Ctx> | undefined;
        let retryAfter = 0;
        return {
          resolve: () => {
            verified ??= authenticate(c);
            return verified;
          },
          // Each procedure of a batch counts against the caller's limit on its own.
          admit: async (verb, type, path) => {
            const wait = (await limiter?.admit(verb, trpcClassOf(type), path)) ?? 0;
            retryAfter = Math.max(retryAfter, wait);
            return wait;
          },
          retryAfter: () => retryAfter,
          requestId: c.get("requestId"),
        };
      },
      responseMeta: ({ ctx, errors }) => {
        // A database outage answers 503 (SERVICE_UNAVAILABLE): ask the client to come back, as REST does.
        const unavailable = errors.some((e) => e.code === "SERVICE_UNAVAILABLE");
        const wait = Math.max(ctx?.retryAfter() ?? 0, unavailable ? DATABASE_RETRY_AFTER_SECONDS : 0);
        return wait > 0 ? { headers: { "retry-after": String(wait) } } : {};
      },
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
  app.onError((error, c) => {
    auditUnrecorded(error, c.get("ctx"), `${c.req.method} ${c.req.path}`);
    return toProblem(error, c, c.get("log") ?? deps.log);
  });
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

const noStore: MiddlewareHandler<AppEnv> = async (c, next) => {
  await next();
  if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
};

function isJson(contentType: string | undefined): boolean {
  return contentType !== undefined && /^application\/([\w.+-]*\+)?json\s*(;|$)/i.test(contentType);
}
