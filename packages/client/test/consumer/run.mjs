// Run by test/build.test.ts under Node with the BUILT package: one REST and one tRPC round trip
// against the real app, and a ProblemError. Prints one JSON line for the test to read.
import { createFlexibilityClient, ProblemError, problemOf } from "@celine/client";

const client = createFlexibilityClient({ baseUrl: process.env.API_URL, token: process.env.API_TOKEN });
const created = await client.rest.createCommitment({
  suggestion_id: "w-node-consumer",
  period_start: "2026-07-02T11:00:00Z",
  period_end: "2026-07-02T12:00:00Z",
});
const listed = await client.trpc.commitments.list.query({ limit: 5 });
let problem = null;
try {
  await client.rest.cancelCommitment("6f1f6c36-3c1a-4d0e-9d2b-1b2f3c4d5e6f");
} catch (error) {
  problem = error instanceof ProblemError ? { status: error.status, detail: error.detail } : String(error);
}
let trpcProblem = null;
try {
  await client.trpc.commitments.cancel.mutate({ id: "6f1f6c36-3c1a-4d0e-9d2b-1b2f3c4d5e6f" });
} catch (error) {
  trpcProblem = problemOf(error)?.status ?? String(error);
}
console.log(
  JSON.stringify({
    node: process.version,
    created: created.user_id,
    total: listed.total,
    problem,
    trpcProblem,
  }),
);
