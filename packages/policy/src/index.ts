export { createLocalDecider, type Decider } from "./decider.ts";
export { BuiltinError, type Location, RegoError } from "./errors.ts";
export { createOpaDecider, type OpaDeciderOptions } from "./opa-decider.ts";
export {
  type Bindings,
  CompiledPolicy,
  type CompileOptions,
  compilePolicies,
  DEFAULT_STEP_BUDGET,
  type Decision,
  type PolicyModule,
  type QueryOptions,
} from "./policy.ts";
export { type RegoTestResult, runRegoTests } from "./run-tests.ts";
export { toJson, type Value } from "./values.ts";
