import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "@celine/core";
import { compilePolicy, type LoadedPolicy, notLoaded, opaPolicy } from "./compile-policy.ts";

export type { LoadedPolicy } from "./compile-policy.ts";

/**
 * The policy decision point: OPA's Data API when OPA_URL is set, else the .rego files of `dir`
 * (test modules aside) compiled in process. A bundle that fails to load yields an authorizer that
 * denies everything (and `loaded: false`, which stops a hardened start). `log` receives the cause
 * of every decision that could not be made (clients are told only that).
 */
export async function loadPolicy({
  dir,
  opaUrl,
  log,
}: {
  dir: string;
  opaUrl?: string | undefined;
  log: Logger;
}): Promise<LoadedPolicy> {
  if (opaUrl) return opaPolicy(opaUrl, log);
  try {
    const files = (await readdir(dir)).filter((f) => f.endsWith(".rego") && !f.endsWith("_test.rego")).sort();
    const modules = await Promise.all(
      files.map(async (f) => ({ path: join(dir, f), source: await readFile(join(dir, f), "utf8") })),
    );
    return compilePolicy(modules, dir, log);
  } catch (error) {
    return notLoaded(error);
  }
}
