import { type Authorizer, messageOf } from "@celine/core";
import { compilePolicies, createLocalDecider, createOpaDecider, type PolicyModule } from "@celine/policy";

// The policy decision point from policy text, with no file system: the Bun and Node entry points
// read policies/ (policy.ts), the edge entry bundles the text (edge.ts).

export const POLICY_PACKAGE = "celine.flexibility.access";

export type LoadedPolicy = { authorizer: Authorizer; loaded: boolean; detail: string };

/** OPA's Data API as the decision point (OPA_URL). */
export function opaPolicy(url: string): LoadedPolicy {
  const opa = createOpaDecider({ url, path: POLICY_PACKAGE.replaceAll(".", "/") });
  return { authorizer: (input) => opa.decide(input), loaded: true, detail: `OPA at ${url}` };
}

/**
 * The .rego modules compiled in process. A bundle that fails to compile, or lacks the access
 * package (it would deny everything), yields `notLoaded`.
 */
export function compilePolicy(modules: PolicyModule[], from: string): LoadedPolicy {
  try {
    if (modules.length === 0) throw new Error(`no .rego files in ${from}`);
    const policy = compilePolicies(modules);
    if (!policy.hasPackage(POLICY_PACKAGE)) throw new Error(`package ${POLICY_PACKAGE} not found`);
    const local = createLocalDecider(policy, POLICY_PACKAGE);
    return {
      authorizer: (input) => local.decide(input),
      loaded: true,
      detail: `${modules.length} module(s) from ${from}`,
    };
  } catch (error) {
    return notLoaded(error);
  }
}

/** An authorizer that denies everything (and `loaded: false`, which stops a hardened start). */
export function notLoaded(error: unknown): LoadedPolicy {
  const detail = `policy bundle did not load: ${messageOf(error)}`;
  return { authorizer: async () => ({ allow: false, reason: detail }), loaded: false, detail };
}
