import type { Context, Hono, MiddlewareHandler } from "hono";
import { serveApp } from "./serve-app.ts";

/** One request as a fake saw it. `status` is 0 while the call is unanswered (latency, hang, client gone). */
export type RecordedCall = {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-cased request headers (all of them: tests pick what interests them). */
  headers: Record<string, string>;
  authorization: string | null;
  /** JSON or form bodies parsed; other bodies as text; `null` when empty. */
  body: unknown;
  status: number;
  at: Date;
};

/** Limits a fault to some calls: an exact pathname or a pattern, and optionally a method. */
export type FaultScope = { path?: string | RegExp; method?: string };

export type FaultControls = {
  /** Answer `status` (problem JSON) to the next `times` matching calls; `Infinity` = until `reset()`. */
  failNext(status: number, times?: number, scope?: FaultScope): void;
  /** Delay every matching call by `ms` before it is handled (0 removes the delay). */
  setLatency(ms: number, scope?: FaultScope): void;
  /** Hold matching calls unanswered until `hang(false)`, `reset()` or `close()`; a client abort frees them. */
  hang(on?: boolean, scope?: FaultScope): void;
  /** Remove every fault (failures, latency, hang). Recorded calls and seeded data stay. */
  reset(): void;
  calls: RecordedCall[];
  clearCalls(): void;
};

export type ParsedBody =
  | { kind: "empty" }
  | { kind: "json"; value: unknown }
  | { kind: "invalid-json"; text: string }
  | { kind: "form"; value: Record<string, string> }
  | { kind: "text"; text: string };

export type FakeEnv = { Variables: { call: RecordedCall; parsedBody: ParsedBody } };

type FaultRule = { status: number; remaining: number; scope: FaultScope | undefined };

export type FaultState = FaultControls & {
  middleware: MiddlewareHandler<FakeEnv>;
  /** Frees hung calls; used by `close()`. */
  releaseAll(): void;
};

export function createFaultControls(opts: { onReset?: () => void } = {}): FaultState {
  const calls: RecordedCall[] = [];
  let failures: FaultRule[] = [];
  let latency: { ms: number; scope: FaultScope | undefined } = { ms: 0, scope: undefined };
  let hanging: { on: boolean; scope: FaultScope | undefined } = { on: false, scope: undefined };
  const waiters = new Set<() => void>();

  function releaseAll(): void {
    for (const release of waiters) release();
    waiters.clear();
  }

  const middleware: MiddlewareHandler<FakeEnv> = async (c, next) => {
    const text = await c.req.text();
    const parsedBody = parseBody(text, c.req.header("content-type") ?? "");
    const call: RecordedCall = {
      method: c.req.method,
      path: c.req.path,
      query: Object.fromEntries(new URL(c.req.url).searchParams),
      headers: Object.fromEntries(c.req.raw.headers),
      authorization: c.req.header("authorization") ?? null,
      body: bodyValue(parsedBody),
      status: 0,
      at: new Date(),
    };
    calls.push(call);
    c.set("call", call);
    c.set("parsedBody", parsedBody);
    const signal = c.req.raw.signal;

    if (latency.ms > 0 && matches(latency.scope, call)) await sleep(latency.ms, signal);
    if (hanging.on && matches(hanging.scope, call)) {
      await new Promise<void>((resolve) => {
        waiters.add(resolve);
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    }
    // The client gave up: nobody reads this answer, and the call stays recorded as unanswered.
    if (signal.aborted) return new Response(null, { status: 499 });

    const rule = failures.find((f) => f.remaining > 0 && matches(f.scope, call));
    if (rule) {
      rule.remaining -= 1;
      call.status = rule.status;
      return answerProblem(rule.status, `injected fault: ${rule.status}`);
    }
    await next();
    call.status = c.res.status;
  };

  return {
    calls,
    middleware,
    releaseAll,
    failNext(status, times = 1, scope) {
      failures.push({ status, remaining: times, scope });
    },
    setLatency(ms, scope) {
      latency = { ms, scope };
    },
    hang(on = true, scope) {
      hanging = { on, scope };
      if (!on) releaseAll();
    },
    reset() {
      failures = [];
      latency = { ms: 0, scope: undefined };
      hanging = { on: false, scope: undefined };
      releaseAll();
      opts.onReset?.();
    },
    clearCalls() {
      calls.length = 0;
    },
  };
}

/**
 * A FastAPI-style platform fake served on loopback: unknown paths answer a 404 problem, and close()
 * frees hung calls before stopping. Returns what every such fake exposes besides its own controls.
 */
export function serveFake(app: Hono<FakeEnv>, faults: FaultState, port: number | undefined) {
  app.notFound(() => answerProblem(404, "Not Found"));
  const served = serveApp(app.fetch, { port, onClose: faults.releaseAll });
  return { ...faults, url: served.url, app, close: served.close };
}

/** FastAPI-style error body: every platform client reads a string `detail`. */
export function answerProblem(
  status: number,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  if (status === 204 || status === 205 || status === 304) return new Response(null, { status, headers });
  return Response.json({ detail }, { status, headers });
}

/** The JSON body of a call, or a 400/415 answer when there is none. */
export function readJsonBody(
  c: Context<FakeEnv>,
): { ok: true; value: unknown } | { ok: false; res: Response } {
  const parsed = c.get("parsedBody");
  if (parsed.kind === "json") return { ok: true, value: parsed.value };
  if (parsed.kind === "invalid-json") return { ok: false, res: answerProblem(400, "body is not valid JSON") };
  if (parsed.kind === "empty") return { ok: false, res: answerProblem(400, "a JSON body is required") };
  return { ok: false, res: answerProblem(415, "content-type must be application/json") };
}

function parseBody(text: string, contentType: string): ParsedBody {
  if (text === "") return { kind: "empty" };
  if (contentType.includes("application/json")) {
    try {
      return { kind: "json", value: JSON.parse(text) };
    } catch {
      return { kind: "invalid-json", text };
    }
  }
  if (contentType.includes("application/x-www-form-urlencoded")) {
    return { kind: "form", value: Object.fromEntries(new URLSearchParams(text)) };
  }
  return { kind: "text", text };
}

function bodyValue(parsed: ParsedBody): unknown {
  switch (parsed.kind) {
    case "empty":
      return null;
    case "json":
    case "form":
      return parsed.value;
    case "invalid-json":
    case "text":
      return parsed.text;
  }
}

function matches(scope: FaultScope | undefined, call: RecordedCall): boolean {
  if (!scope) return true;
  if (scope.method && scope.method.toUpperCase() !== call.method) return false;
  if (scope.path === undefined) return true;
  return typeof scope.path === "string" ? scope.path === call.path : scope.path.test(call.path);
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}
