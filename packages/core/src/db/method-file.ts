import { readFileSync } from "node:fs";
import { type MethodOverrides, parseSettlementMethod, type SettlementMethod } from "../settlement/method.ts";

/** The settlement method from its YAML file; an Error naming every problem (by key path) when it is not valid. */
export function loadSettlementMethod(path: string, overrides: MethodOverrides = {}): SettlementMethod {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(
      `FLEXIBILITY_CONFIG: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const parsed = parseSettlementMethod(text, overrides);
  if (!parsed.ok) {
    throw new Error(`invalid FLEXIBILITY_CONFIG (${path}):\n  - ${parsed.problems.join("\n  - ")}`);
  }
  return parsed.method;
}

/** A parsed environment with the settlement method its FLEXIBILITY_CONFIG names (POINTS_PER_KWH overriding the rate). */
export function withSettlementMethod<
  E extends { FLEXIBILITY_CONFIG: string; POINTS_PER_KWH?: number | undefined },
>(env: E): E & { method: SettlementMethod } {
  return {
    ...env,
    method: loadSettlementMethod(env.FLEXIBILITY_CONFIG, { pointsPerKwh: env.POINTS_PER_KWH }),
  };
}
