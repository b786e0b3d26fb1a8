// @celine/policy/testing: the access policy as the API loads it and its hand-written oracle, for
// other packages' tests and benches.
export { decideAccessByHand } from "./access-oracle.ts";
export { ACCESS_ENTRYPOINT, loadAccessPolicy, POLICY_DIR, readPolicyModule } from "./access-policy.ts";
