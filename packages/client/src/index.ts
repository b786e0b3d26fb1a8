// @celine/client: typed clients of the CELINE Flexibility API for a BFF or another service.
// Types come from the API (`import type` only): nothing of the server runs in the client.
export type { AppRouter } from "@celine/api/trpc";

import type { FlexibilityClientOptions } from "./options.ts";
import { createRestClient, type RestClient } from "./rest.ts";
import { createTrpcClient, type TrpcClient } from "./trpc.ts";

export type { FetchLike, FlexibilityClientOptions, HeaderSource } from "./options.ts";
export {
  type ProblemDocument,
  ProblemError,
  type ProblemFieldError,
  problemOf,
  readProblem,
} from "./problem-error.ts";
export {
  type CalendarToken,
  type Commitment,
  type CommitmentList,
  type CommitmentStatus,
  type CreateCommitmentBody,
  type CreatedWebhook,
  type CreateWebhookBody,
  createRestClient,
  type ListCommitmentsParams,
  type MemberErasure,
  type Progress,
  type RespondBody,
  type RespondResult,
  type RestClient,
  type RestRoutes,
  type SettleCommitmentBody,
  type Settlement,
  type SettlementMethod,
  type Suggestion,
  type WebhookEventType,
  type WebhookSubscription,
} from "./rest.ts";
export { createTrpcClient, type TrpcClient } from "./trpc.ts";

/** Both clients of the API over one configuration. */
export type FlexibilityClient = { trpc: TrpcClient; rest: RestClient };

/**
 * Both clients of the API over one configuration: `trpc` (procedures under `/trpc`, batched) and
 * `rest` (the OpenAPI routes, as the existing callers use them). Both send
 * `Authorization: Bearer <token>` from `token`, or from `getToken()` called per request.
 */
export function createFlexibilityClient(options: FlexibilityClientOptions): FlexibilityClient {
  return { trpc: createTrpcClient(options), rest: createRestClient(options) };
}
