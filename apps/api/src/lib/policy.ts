import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Authorizer } from "@celine/core";
import { compilePolicies, createLocalDecider, createOpaDecider } from "@celine/policy";

export const POLICY_PACKAGE = "celine.flexibility.access";

export type LoadedPolicy = { authorizer: Authorizer; loaded: boolean; detail: string };

const denyAll =
  (reason: string): Authorizer =>
  async () => ({ allow: false, reason });

/**
 * The policy decision point: OPA's Data API when OPA_URL is set, else the .rego files of `dir`
 * compiled in process. A bundle that fails to load yields an authorizer that denies everything
 * (and `loaded: false`, which stops a hardened start).
 */
export async function loadPolicy({
  dir,
  opaUrl,
}: {
  dir: string;
  opaUrl?: string | undefined;
}): Promise<LoadedPolicy> {
  if (opaUrl) {
    const opa = createOpaDecider({ url: opaUrl, path: POLICY_PACKAGE.replaceAll(".", "/") });
    return { authorizer: (input) => opa.decide(input), loaded: true, detail: `OPA at ${opaUrl}` };
  }
  try {
    const files = (await readdir(dir)).filter((f) => f.endsWith(".rego") && !f.endsWith("_test.rego")).sort();
    if (files.length === 0) throw new Error(`no .rego files in ${dir}`);
    const modules = await Promise.all(
      files.map(async (f) => ({ path: join(dir, f), source: await readFile(join(dir, f), "utf8") })),
    );
    const policy = compilePolicies(modules);
    // A bundle without the access package would deny everything: treat it as not loaded.
    if (!policy.hasPackage(POLICY_PACKAGE)) throw new Error(`package ${POLICY_PACKAGE} not found`);
    const local = createLocalDecider(policy, POLICY_PACKAGE);
    return {
      authorizer: (input) => local.decide(input),
      loaded: true,
      detail: `${files.length} module(s) from ${dir}`,
    };
  } catch (error) {
    const detail = `policy bundle did not load: ${error instanceof Error ? error.message : String(error)}`;
    return { authorizer: denyAll(detail), loaded: false, detail };
  }
}
