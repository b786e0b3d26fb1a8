/** A `fetch` the client can call: the global one, a test double, or one with an agent. */
export type FetchLike = (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;

export type HeaderSource =
  | Record<string, string>
  | (() => Record<string, string> | Promise<Record<string, string>>);

export type FlexibilityClientOptions = {
  /** Where the API answers, e.g. `http://flexibility:8017` (no trailing `/api`). */
  baseUrl: string;
  /** A fixed JWT sent as `Authorization: Bearer` (a client per participant request). */
  token?: string;
  /**
   * Called before every HTTP request (each REST call, each tRPC batch): return the JWT to send,
   * e.g. the participant token of the request the BFF is serving, or a refreshed service token.
   */
  getToken?: () => string | Promise<string>;
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike;
  /** Extra headers on every request (a fixed record, or a function called per request). */
  headers?: HeaderSource;
};

/** The headers of one request: the caller's extras, then the bearer token (which wins). */
export function requestHeaders(options: FlexibilityClientOptions): () => Promise<Record<string, string>> {
  const { token, getToken, headers } = options;
  if (token !== undefined && getToken !== undefined) {
    throw new TypeError("createFlexibilityClient: pass token or getToken, not both");
  }
  return async () => {
    const extra = typeof headers === "function" ? await headers() : { ...headers };
    const jwt = getToken ? await getToken() : token;
    if (jwt) extra.authorization = `Bearer ${jwt}`;
    return extra;
  };
}

/** `baseUrl` without a trailing slash, so paths can be appended. */
export function trimBaseUrl(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, "");
}
