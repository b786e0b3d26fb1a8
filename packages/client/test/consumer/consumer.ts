// A BFF's use of the client, type-checked by test/build.test.ts against the PACKED package: the
// tarball of dist/ installed with npm into an empty folder, beside only its declared dependencies.
// Every @ts-expect-error proves a type is real: were it `any`, the directive would be unused and the
// check would fail.
import {
  type AppRouter,
  type Commitment,
  createFlexibilityClient,
  type FlexibilityClient,
  ProblemError,
  problemOf,
  type Settlement,
  type Suggestion,
} from "@celine/client";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";

/** A tRPC procedure's input and output, as a BFF would type its own handlers. */
type CreateInput = inferRouterInputs<AppRouter>["commitments"]["create"];
type RespondAnswer = inferRouterOutputs<AppRouter>["suggestions"]["respond"];

export const operatorCreate: CreateInput = {
  suggestion_id: "w1",
  period_start: "2026-07-02T11:00:00Z",
  period_end: "2026-07-02T12:00:00Z",
  user_id: "member-1",
};
// @ts-expect-error: period_end is required by the procedure's input schema
export const incomplete: CreateInput = { suggestion_id: "w1", period_start: "2026-07-02T11:00:00Z" };
export const answered = (answer: RespondAnswer): string | null => answer.commitment_id;

/** The dates a settlement's first interval considered for its baseline, and which it used. */
export function candidatesOf(settlement: Settlement): { date: string; used: boolean }[] {
  const first = settlement.intervals[0];
  // @ts-expect-error: candidates' dates are strings, not numbers
  const wrong: number | undefined = first?.candidates[0]?.date;
  console.log(wrong);
  return first ? first.candidates.map((c) => ({ date: c.date, used: c.used })) : [];
}

/** A Commitment's fields as the API answers them. */
export function windowOf(commitment: Commitment): { start: string; end: string; points: number | null } {
  // @ts-expect-error: reward_points_actual may be null
  const points: number = commitment.reward_points_actual;
  console.log(points);
  return {
    start: commitment.period_start,
    end: commitment.period_end,
    points: commitment.reward_points_actual,
  };
}

const client: FlexibilityClient = createFlexibilityClient({
  baseUrl: "http://127.0.0.1:8017",
  getToken: async () => "participant-jwt",
});

export async function useEveryCall(): Promise<void> {
  const page = await client.rest.listCommitments({ limit: 10, status: "committed" });
  const total: number = page.total;
  const first: Commitment | undefined = page.items[0];
  const status: "committed" | "settled" | "rejected" | "cancelled" | undefined = first?.status;
  // @ts-expect-error: not one of the four statuses
  await client.rest.listCommitments({ status: "done" });

  const created = await client.rest.createCommitment({
    suggestion_id: "w1",
    period_start: "2026-07-02T11:00:00Z",
    period_end: "2026-07-02T12:00:00Z",
  });
  const id: string = created.id;
  // @ts-expect-error: suggestion_id is required
  await client.rest.createCommitment({ period_start: "a", period_end: "b" });
  await client.rest.cancelCommitment(id);

  const suggestions: Suggestion[] = await client.rest.listSuggestions();
  const clock: string | undefined = suggestions[0]?.clock_range;
  const qualifying: number | undefined = suggestions[0]?.target?.qualifying_kwh;
  // @ts-expect-error: the target may be null
  suggestions[0]?.target.baseline_kwh;
  const answer = await client.rest.respond("w1", { response: "accepted" });
  const commitmentId: string | null = answer.commitment_id;
  // @ts-expect-error: the old README's {"action":"accept"} was never accepted
  await client.rest.respond("w1", { action: "accept" });

  const viaTrpc = await client.trpc.commitments.list.query({ limit: 5 });
  const trpcTotal: number = viaTrpc.total;
  // @ts-expect-error: the list has no such field
  viaTrpc.nope;
  // @ts-expect-error: no such procedure
  await client.trpc.commitments.remove.mutate({ id });

  const explained = await client.rest.getSettlement(id);
  const ledgerSum: number = explained.reward_points_actual;
  const entryKind: "settlement" | "restatement" | "manual" | undefined = explained.ledger[0]?.kind;
  const capKind: "device" | "community" | "none" | undefined = explained.cap?.kind;
  // @ts-expect-error: the explanation has no such field
  explained.nope;
  const progress = await client.rest.getProgress(id);
  const projected: number | null = progress.projected_points;
  const onTrack: boolean | null = (await client.trpc.commitments.progress.query({ id })).on_track;
  console.log(qualifying, projected, onTrack);
  const method = await client.rest.getSettlementMethod();
  const rate: number = method.points.rate_per_kwh;
  const viaTrpcMethod = await client.trpc.settlement.method.query();
  const trpcRate: number = viaTrpcMethod.points.rate_per_kwh;
  console.log(ledgerSum, entryKind, capKind, rate, trpcRate);

  const raw = await client.rest.routes.api.commitments.$get({ query: { limit: "5" } });
  const rawStatus: number = raw.status;

  try {
    await client.rest.cancelCommitment(id);
  } catch (error) {
    const problem = problemOf(error);
    if (problem instanceof ProblemError) {
      const detail: string = problem.detail;
      const httpStatus: number = problem.status;
      console.log(detail, httpStatus, problem.requestId, problem.errors?.[0]?.path);
    }
  }
  console.log(total, status, clock, commitmentId, trpcTotal, rawStatus);
}
