import { createTRPCClient, httpBatchLink, httpLink, TRPCClientError } from "@trpc/client";
import type { AppRouter } from "../src/trpc/router.ts";
import type { Harness } from "./harness.ts";

// The real @trpc/client over a harness's app (its fetch is app.request), for the suites that drive
// /trpc as a client would.

export type TrpcClientOptions = { token?: string; headers?: Record<string, string>; batch?: boolean };

/** A client of `on`'s app sending `token` as the bearer; unbatched (httpLink) unless `batch`. */
export function trpcClientOf(
  on: Pick<Harness, "app">,
  { token, headers = {}, batch = false }: TrpcClientOptions = {},
) {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const options = {
    url: "http://127.0.0.1/trpc",
    fetch: async (url: URL | RequestInfo, init?: RequestInit) => on.app.request(String(url), init),
    headers: () => ({ ...headers, ...auth }),
  };
  return createTRPCClient<AppRouter>({ links: [batch ? httpBatchLink(options) : httpLink(options)] });
}

/** The tRPC error a call fails with (fails the test when it succeeds). */
export async function trpcFailure(call: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  try {
    const value = await call;
    throw new Error(`expected a tRPC error, got ${JSON.stringify(value)}`);
  } catch (error) {
    if (!(error instanceof TRPCClientError)) throw error;
    return error as TRPCClientError<AppRouter>;
  }
}
