import { type Authorizer, type Logger, messageOf, type PolicyInput } from "@celine/core";
import {
  compilePolicies,
  createLocalDecider,
  createOpaDecider,
  type Decider,
  type PolicyModule,
} from "@celine/policy";

// The policy decision point from policy text, with no file system: the Bun and Node entry points
// read policies/ (policy.ts), the edge entry bundles the text (edge.ts).

export const POLICY_PACKAGE = "celine.flexibility.access";

/** What a caller is told when no decision could be made; the cause goes to the log only. */
export const POLICY_UNAVAILABLE = "access denied: the policy could not be evaluated";

export type LoadedPolicy = {
  authorizer: Authorizer;
  loaded: boolean;
  /** Where the policy came from, or why it did not load (paths, URLs): for the start-up log, never served. */
  detail: string;
  /** Whether a decision can be made now: a cheap question put to the decision point (/ready). */
  probe(): Promise<boolean>;
};

/** A question every policy answers (with a denial) without touching a rule's data: /ready's probe. */
const PROBE_INPUT: PolicyInput = {
  subject: null,
  action: { name: "read" },
  resource: { type: "readiness", attributes: {} },
};

/** OPA's Data API as the decision point (OPA_URL). */
export function opaPolicy(url: string, log: Logger): LoadedPolicy {
  const opa = createOpaDecider({ url, path: POLICY_PACKAGE.replaceAll(".", "/") });
  return decisionPoint(opa, `OPA at ${url}`, log);
}

/**
 * The .rego modules compiled in process. A bundle that fails to compile, or lacks the access
 * package (it would deny everything), yields `notLoaded`.
 */
export function compilePolicy(modules: PolicyModule[], from: string, log: Logger): LoadedPolicy {
  try {
    if (modules.length === 0) throw new Error(`no .rego files in ${from}`);
    const policy = compilePolicies(modules);
    if (!policy.hasPackage(POLICY_PACKAGE)) throw new Error(`package ${POLICY_PACKAGE} not found`);
    return decisionPoint(
      createLocalDecider(policy, POLICY_PACKAGE),
      `${modules.length} module(s) from ${from}`,
      log,
    );
  } catch (error) {
    return notLoaded(error);
  }
}

/**
 * The authorizer over a decider. A decision that could not be made (OPA unreachable, an evaluation
 * error) denies with a generic reason — the 403's detail and the audit record — while the cause
 * (an address, an evaluator's message) goes to the log.
 */
function decisionPoint(decider: Decider, detail: string, log: Logger): LoadedPolicy {
  const decide = async (input: unknown) => {
    try {
      return await decider.decide(input);
    } catch (error) {
      // Deciders never throw; should one, it is a failure like any other.
      return { allow: false, reason: `policy error: ${messageOf(error)}`, failed: true as const };
    }
  };
  return {
    authorizer: async (input) => {
      const decision = await decide(input);
      if (!decision.failed) return decision;
      log.error("policy could not be evaluated; access denied", {
        cause: decision.reason,
        action: input.action.name,
        resource: input.resource.type,
      });
      return { allow: false, reason: POLICY_UNAVAILABLE };
    },
    loaded: true,
    detail,
    probe: async () => !(await decide(PROBE_INPUT)).failed,
  };
}

/** An authorizer that denies everything (and `loaded: false`, which stops a hardened start). */
export function notLoaded(error: unknown): LoadedPolicy {
  const detail = `policy bundle did not load: ${messageOf(error)}`;
  return {
    authorizer: async () => ({ allow: false, reason: POLICY_UNAVAILABLE }),
    loaded: false,
    detail,
    probe: async () => false,
  };
}
