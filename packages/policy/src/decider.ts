import type { CompiledPolicy, Decision } from "./policy.ts";

/** Anything that can answer an access question; local evaluation and the OPA sidecar share this shape. */
export type Decider = { decide(input: unknown): Promise<Decision> };

/**
 * Decides with the in-process evaluator. `entrypoint` names the package, dotted
 * ("celine.flexibility.access") or as an OPA data path ("celine/flexibility/access").
 */
export function createLocalDecider(policy: CompiledPolicy, entrypoint: string): Decider {
  const pkg = entrypoint.replace(/^\/+|\/+$/g, "").replaceAll("/", ".");
  return { decide: async (input) => policy.decide(pkg, input) };
}
