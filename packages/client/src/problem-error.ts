import { isTRPCClientError } from "@trpc/client";

/** One entry of a 422's `errors`: the field path (dotted) and what is wrong with it. */
export type ProblemFieldError = { path: string; message: string };

/** The RFC 9457 document the API answers every error with (`application/problem+json`). */
export type ProblemDocument = {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  request_id?: string;
  errors?: ProblemFieldError[];
};

/**
 * A non-2xx answer of the Flexibility API. `detail` is the human-readable cause the API wrote
 * (or the body text when the answer was not a problem document, e.g. from a proxy).
 */
export class ProblemError extends Error {
  override readonly name = "ProblemError";
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly type: string;
  readonly instance: string | undefined;
  readonly errors: ProblemFieldError[] | undefined;
  /** Quote it when reporting a 500: the API's logs carry the cause under this id. */
  readonly requestId: string | undefined;

  constructor(init: {
    status: number;
    detail: string;
    title?: string | undefined;
    type?: string | undefined;
    instance?: string | undefined;
    errors?: ProblemFieldError[] | undefined;
    requestId?: string | undefined;
  }) {
    super(`${init.status} ${init.title ?? statusTitle(init.status)}: ${init.detail}`);
    this.status = init.status;
    this.title = init.title ?? statusTitle(init.status);
    this.detail = init.detail;
    this.type = init.type ?? "about:blank";
    this.instance = init.instance;
    this.errors = init.errors;
    this.requestId = init.requestId;
  }

  /** The problem document again, e.g. for a BFF that passes the API's error on to its caller. */
  toJSON(): ProblemDocument {
    return {
      type: this.type,
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(this.instance === undefined ? {} : { instance: this.instance }),
      ...(this.requestId === undefined ? {} : { request_id: this.requestId }),
      ...(this.errors === undefined ? {} : { errors: this.errors }),
    };
  }
}

/** Reads a non-2xx response into a ProblemError (consumes the body). */
export async function readProblem(response: Response): Promise<ProblemError> {
  const text = await response.text().catch(() => "");
  const headerId = response.headers.get("x-request-id") ?? undefined;
  const document = parseProblem(text);
  if (!document) {
    return new ProblemError({
      status: response.status,
      detail: text.trim() || response.statusText || statusTitle(response.status),
      requestId: headerId,
    });
  }
  return new ProblemError({
    status: response.status,
    detail: document.detail,
    title: document.title,
    type: document.type,
    instance: document.instance,
    errors: document.errors,
    requestId: document.request_id ?? headerId,
  });
}

/**
 * The ProblemError behind any error a client call threw: REST calls throw one already; a tRPC
 * call throws a TRPCClientError, whose HTTP status and message are carried over. Anything else
 * (network failure, a bug) is not an answer from the API: null.
 */
export function problemOf(error: unknown): ProblemError | null {
  if (error instanceof ProblemError) return error;
  if (isTRPCClientError(error)) {
    const data: unknown = error.data;
    const status = numberField(data, "httpStatus");
    if (status === undefined) return null;
    return new ProblemError({ status, detail: error.message });
  }
  return null;
}

function parseProblem(text: string): (ProblemDocument & { detail: string }) | null {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return null;
  }
  if (!body || typeof body !== "object") return null;
  const detail = stringField(body, "detail");
  if (detail === undefined) return null;
  const errors =
    "errors" in body && Array.isArray(body.errors) ? body.errors.filter(isFieldError) : undefined;
  return {
    detail,
    type: stringField(body, "type"),
    title: stringField(body, "title"),
    instance: stringField(body, "instance"),
    request_id: stringField(body, "request_id"),
    errors,
  };
}

function isFieldError(value: unknown): value is ProblemFieldError {
  return stringField(value, "path") !== undefined && stringField(value, "message") !== undefined;
}

function stringField(value: unknown, key: string): string | undefined {
  if (!value || typeof value !== "object" || !(key in value)) return undefined;
  const field: unknown = (value as Record<string, unknown>)[key];
  return typeof field === "string" ? field : undefined;
}

function numberField(value: unknown, key: string): number | undefined {
  if (!value || typeof value !== "object" || !(key in value)) return undefined;
  const field: unknown = (value as Record<string, unknown>)[key];
  return typeof field === "number" ? field : undefined;
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  409: "Conflict",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

function statusTitle(status: number): string {
  return TITLES[status] ?? "Error";
}
