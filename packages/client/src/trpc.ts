import type { AppRouter } from "@celine/api/trpc";
import { createTRPCClient, httpBatchLink, type TRPCClient } from "@trpc/client";
import { type FlexibilityClientOptions, requestHeaders, trimBaseUrl } from "./options.ts";

/** The tRPC client of the API: procedures under `/trpc`, batched, typed from `AppRouter`. */
export type TrpcClient = TRPCClient<AppRouter>;

/** The tRPC client, with the same auth as the REST client (headers resolved per batch request). */
export function createTrpcClient(options: FlexibilityClientOptions): TrpcClient {
  const headers = requestHeaders(options);
  return createTRPCClient<AppRouter>({
    links: [
      httpBatchLink({
        url: `${trimBaseUrl(options.baseUrl)}/trpc`,
        headers,
        ...(options.fetch ? { fetch: options.fetch } : {}),
      }),
    ],
  });
}
