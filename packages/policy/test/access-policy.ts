import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type CompiledPolicy, compilePolicies, type PolicyModule } from "../src/index.ts";

export const POLICY_DIR = join(import.meta.dir, "..", "..", "..", "policies");
export const ACCESS_ENTRYPOINT = "celine.flexibility.access";

export function readPolicyModule(name: string): PolicyModule {
  return { path: `policies/${name}`, source: readFileSync(join(POLICY_DIR, name), "utf8") };
}

/** The access policy alone (no tests), as the API loads it. */
export function loadAccessPolicy(): CompiledPolicy {
  return compilePolicies([readPolicyModule("flexibility.rego")]);
}
