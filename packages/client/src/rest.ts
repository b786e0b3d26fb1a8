import type { AppType } from "@celine/api/app";
import { type ClientRequestOptions, type ClientResponse, hc, type InferRequestType } from "hono/client";
import { type FetchLike, type FlexibilityClientOptions, requestHeaders, trimBaseUrl } from "./options.ts";
import { ProblemError, readProblem } from "./problem-error.ts";

/**
 * Hono's `hc` typed by the API's `AppType`. A function rather than a type alias on purpose: tsc
 * writes its inferred return type out in full when it emits declarations (Hono's advice for
 * shipping a client), so the published types name every route and none of the server's modules.
 */
export const routesClient = (baseUrl: string, options?: ClientRequestOptions) =>
  hc<AppType>(baseUrl, options);

/** Hono's typed client over every route of the API. Non-2xx answers throw ProblemError. */
export type RestRoutes = ReturnType<typeof routesClient>;

type Commitments = RestRoutes["api"]["commitments"];
type Suggestions = RestRoutes["api"]["suggestions"];
/** The body of an endpoint's success answer. */
type SuccessBody<E extends (...args: never[]) => Promise<unknown>> =
  Awaited<ReturnType<E>> extends infer R
    ? R extends ClientResponse<infer T, infer S, "json">
      ? S extends 200 | 201
        ? T
        : never
      : never
    : never;

/** A commitment as the API answers it (PLATFORM §1 `CommitmentOut`). */
export type Commitment = SuccessBody<Commitments["$post"]>;
export type CommitmentList = SuccessBody<Commitments["$get"]>;
export type CommitmentStatus = Commitment["status"];
export type CreateCommitmentBody = InferRequestType<Commitments["$post"]>["json"];
export type ListCommitmentsParams = {
  /** 1–200, default 50. */
  limit?: number;
  /** ≥ 0, default 0. */
  offset?: number;
  status?: CommitmentStatus;
  /** Services only (required for them); ignored for a participant, who always lists their own. */
  user_id?: string;
};
export type SettleCommitmentBody = InferRequestType<Commitments[":id"]["settle"]["$patch"]>["json"];
/** Every number a commitment's settlement used, as stored, with its ledger entries. */
export type Settlement = SuccessBody<Commitments[":id"]["settlement"]["$get"]>;
/** How a commitment is doing: readings so far, its baseline, the points in sight. */
export type Progress = SuccessBody<Commitments[":id"]["progress"]["$get"]>;
/** The settlement method in force (for a "how points work" page). */
export type SettlementMethod = SuccessBody<RestRoutes["api"]["settlement"]["method"]["$get"]>;
/** A flexibility window offered to the caller (PLATFORM §1 `SuggestionItem`). */
export type Suggestion = SuccessBody<Suggestions["$get"]>[number];
export type RespondBody = InferRequestType<Suggestions[":id"]["respond"]["$post"]>["json"];
export type RespondResult = SuccessBody<Suggestions[":id"]["respond"]["$post"]>;
/** Rows erased per kind by `DELETE /api/members/{user_id}` (all 0 when nothing was held). */
export type MemberErasure = SuccessBody<RestRoutes["api"]["members"][":user_id"]["$delete"]>;
/** `{ url }`: the caller's calendar feed at a fresh secret address. */
export type CalendarToken = SuccessBody<RestRoutes["api"]["calendar"]["token"]["$post"]>;
type Webhooks = RestRoutes["api"]["webhooks"];
/** `{ url, events?, community_id? }`: what to subscribe (a service names the community). */
export type CreateWebhookBody = InferRequestType<Webhooks["$post"]>["json"];
/** A new subscription, with its signing secret (shown this once). */
export type CreatedWebhook = SuccessBody<Webhooks["$post"]>;
/** A subscription as listed: enabled, or disabled with why; never its secret. */
export type WebhookSubscription = SuccessBody<Webhooks["$get"]>["items"][number];
/** The event types a subscription may receive. */
export type WebhookEventType = WebhookSubscription["events"][number];

/**
 * The REST client: `routes` is Hono's `hc` client typed from the API's `AppType` (every route);
 * the named methods are the calls a BFF makes and answer parsed bodies. Every non-2xx answer
 * throws a ProblemError carrying the API's `detail`.
 */
export type RestClient = {
  routes: RestRoutes;
  /** `GET /api/suggestions`: the windows open to the caller, best first (`[]` when none). */
  listSuggestions(): Promise<Suggestion[]>;
  /** `POST /api/suggestions/{id}/respond`: accept (creates or returns the commitment) or decline. */
  respond(suggestionId: string, body: RespondBody): Promise<RespondResult>;
  /** `GET /api/commitments`: one page, newest first, and the number of matching rows. */
  listCommitments(params?: ListCommitmentsParams): Promise<CommitmentList>;
  /** `POST /api/commitments`: a participant commits to a window for themselves. */
  createCommitment(body: CreateCommitmentBody): Promise<Commitment>;
  /** `DELETE /api/commitments/{id}`: 404 when unknown or somebody else's, 409 when not live. */
  cancelCommitment(id: string): Promise<void>;
  /** `PATCH /api/commitments/{id}/settle` (services with write scope). */
  settleCommitment(id: string, body: SettleCommitmentBody): Promise<Commitment>;
  /** `GET /api/commitments/{id}/settlement`: why it got its points (owner, or services with read scope). */
  getSettlement(id: string): Promise<Settlement>;
  /**
   * `GET /api/commitments/{id}/progress`: readings so far against the baseline, whether it is on track,
   * the points in sight (owner, or services with read scope). Poll it freely: the DT is asked at most
   * once a minute per commitment.
   */
  getProgress(id: string): Promise<Progress>;
  /** `GET /api/settlement/method`: the baseline, thresholds, tiers, streak and cap in force. */
  getSettlementMethod(): Promise<SettlementMethod>;
  /** `DELETE /api/members/{user_id}`: erase everything held about a member (operators: flexibility.admin). */
  eraseMember(userId: string): Promise<MemberErasure>;
  /**
   * `POST /api/calendar/token`: a fresh secret URL of the caller's calendar feed, for a calendar app
   * to subscribe to; the previous URL stops working at once.
   */
  createCalendarToken(): Promise<CalendarToken>;
  /**
   * `POST /api/webhooks`: subscribe a URL to signed events (a participant: their own; a service with
   * flexibility.admin: a community's). Keep the answer's `secret`: it is never shown again.
   */
  createWebhook(body: CreateWebhookBody): Promise<CreatedWebhook>;
  /** `GET /api/webhooks`: the caller's subscriptions, oldest first. */
  listWebhooks(): Promise<WebhookSubscription[]>;
  /** `DELETE /api/webhooks/{id}`: 404 when unknown or somebody else's. */
  deleteWebhook(id: string): Promise<void>;
  /** `POST /api/webhooks/{id}/test`: send a signed `webhook.test`; answers the `webhook-id` it carries. */
  testWebhook(id: string): Promise<{ message_id: string }>;
};

export function createRestClient(options: FlexibilityClientOptions): RestClient {
  const baseFetch: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const checked: FetchLike = async (input, init) => {
    const response = await baseFetch(input, init);
    if (!response.ok) throw await readProblem(response);
    return response;
  };
  const routes = routesClient(trimBaseUrl(options.baseUrl), {
    // hc wants the global fetch's type (Bun's adds `preconnect`); it only ever calls it.
    fetch: checked as typeof fetch,
    headers: requestHeaders(options),
  });
  const { commitments, suggestions } = routes.api;

  return {
    routes,
    async listSuggestions() {
      const res = await suggestions.$get();
      if (res.status === 200) return res.json();
      throw unexpected(res);
    },
    async respond(suggestionId, body) {
      const res = await suggestions[":id"].respond.$post({ param: { id: suggestionId }, json: body });
      if (res.status === 200) return res.json();
      throw unexpected(res);
    },
    async listCommitments(params = {}) {
      const res = await commitments.$get({ query: toQuery(params) });
      if (res.status === 200) return res.json();
      throw unexpected(res);
    },
    async createCommitment(body) {
      const res = await commitments.$post({ json: body });
      if (res.status === 201) return res.json();
      throw unexpected(res);
    },
    async cancelCommitment(id) {
      const res = await commitments[":id"].$delete({ param: { id } });
      if (res.status === 204) return;
      throw unexpected(res);
    },
    async settleCommitment(id, body) {
      const res = await commitments[":id"].settle.$patch({ param: { id }, json: body });
      if (res.status === 200) return res.json();
      throw unexpected(res);
    },
    async getSettlement(id) {
      const res = await commitments[":id"].settlement.$get({ param: { id } });
      if (res.status === 200) return res.json();
      throw unexpected(res);
    },
    async getProgress(id) {
      const res = await commitments[":id"].progress.$get({ param: { id } });
      if (res.status === 200) return res.json();
      throw unexpected(res);
    },
    async getSettlementMethod() {
      const res = await routes.api.settlement.method.$get();
      if (res.status === 200) return res.json();
      throw unexpected(res);
    },
    async eraseMember(userId) {
      const res = await routes.api.members[":user_id"].$delete({ param: { user_id: memberSegment(userId) } });
      if (res.status === 200) return res.json();
      throw unexpected(res);
    },
    async createCalendarToken() {
      const res = await routes.api.calendar.token.$post();
      if (res.status === 201) return res.json();
      throw unexpected(res);
    },
    async createWebhook(body) {
      const res = await routes.api.webhooks.$post({ json: body });
      if (res.status === 201) return res.json();
      throw unexpected(res);
    },
    async listWebhooks() {
      const res = await routes.api.webhooks.$get();
      if (res.status === 200) return (await res.json()).items;
      throw unexpected(res);
    },
    async deleteWebhook(id) {
      const res = await routes.api.webhooks[":id"].$delete({ param: { id } });
      if (res.status === 204) return;
      throw unexpected(res);
    },
    async testWebhook(id) {
      const res = await routes.api.webhooks[":id"].test.$post({ param: { id } });
      if (res.status === 202) return res.json();
      throw unexpected(res);
    },
  };
}

/** Query strings carry text: numbers are written out, absent keys left out. */
function toQuery(params: ListCommitmentsParams): Record<string, string> {
  const query: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) query[key] = String(value);
  }
  return query;
}

/**
 * `hc` puts a param into the path as it is: encoded, a member's id is always one segment of this route
 * (unencoded, `../commitments/<id>` would be another route). `.` and `..` stay dot segments even
 * encoded (URLs resolve them away), so they cannot be sent here at all: tRPC `members.erase` can.
 */
function memberSegment(userId: string): string {
  if (userId === "." || userId === "..")
    throw new RangeError(
      `member id ${JSON.stringify(userId)} cannot be a path segment; use tRPC members.erase`,
    );
  return encodeURIComponent(userId);
}

/** A 2xx other than the documented one: the API and this client disagree. */
function unexpected(res: { status: number; url: string }): ProblemError {
  return new ProblemError({
    status: res.status,
    title: "Unexpected Response",
    detail: `unexpected ${res.status} from ${res.url}; is the client older than the API?`,
  });
}
