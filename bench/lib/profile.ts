// Summarises a Bun `--cpu-prof` profile of the API: the share of the process's samples spent under
// each named stage (inclusive, so nested stages overlap), to say where a request's time goes.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

type Frame = { functionName: string; url: string };
type ProfileNode = { id: number; callFrame: Frame; children?: number[] };
type CpuProfile = { nodes: ProfileNode[]; samples: number[] };

export type Stage = { name: string; matches: (f: Frame) => boolean };

const at = (fn: string | RegExp, file: string) => (f: Frame) =>
  f.url.includes(file) && (typeof fn === "string" ? f.functionName === fn : fn.test(f.functionName));

/** The stages of GET /api/commitments, outermost first. */
export const LIST_STAGES: Stage[] = [
  { name: "zod validation of the query (hono validator)", matches: at(/.*/, "@hono/zod-validator") },
  { name: "token check (verification cache hit)", matches: at("verify", "apps/api/src/lib/identity.ts") },
  { name: "policy decision (Rego evaluator)", matches: at("authorize", "packages/core/src/authorize.ts") },
  {
    name: "drizzle: building the SQL text",
    matches: at(/^buildSelectQuery$|^buildQueryFromSourceParams$/, "drizzle-orm"),
  },
  {
    name: "postgres.js: writing to the socket (node:net)",
    matches: at("nextWrite", "postgres/src/connection.js"),
  },
  { name: "postgres.js: parsing result rows", matches: at("DataRow", "postgres/src/connection.js") },
  {
    name: "wireRowToCommitmentOut (driver text → wire shape)",
    matches: at("wireRowToCommitmentOut", "commitments/out.ts"),
  },
  { name: "JSON response (c.json → JSON.stringify)", matches: at("json", "hono/dist/context.js") },
  { name: "request log line (JSON to stdout)", matches: at(/.*/, "packages/core/src/log.ts") },
];

/** Inclusive share of samples per stage, from the newest `.cpuprofile` in `dir`. */
export function summariseProfile(dir: string, stages: Stage[]): { stage: string; share: number }[] {
  const file = readdirSync(dir)
    .filter((f) => f.endsWith(".cpuprofile"))
    .sort()
    .at(-1);
  if (!file) throw new Error(`no .cpuprofile in ${dir}`);
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const counts = new Array<number>(stages.length).fill(0);
  let busy = 0;
  for (const leafId of profile.samples) {
    const leaf = byId.get(leafId);
    if (!leaf || leaf.callFrame.functionName === "(idle)" || leaf.callFrame.functionName === "(program)")
      continue;
    busy++;
    const hit = new Set<number>();
    for (let id: number | undefined = leafId; id !== undefined; id = parent.get(id)) {
      const frame = byId.get(id)?.callFrame;
      if (!frame) break;
      stages.forEach((s, i) => {
        if (s.matches(frame)) hit.add(i);
      });
    }
    for (const i of hit) counts[i] = (counts[i] ?? 0) + 1;
  }
  return stages.map((s, i) => ({ stage: s.name, share: (counts[i] ?? 0) / Math.max(1, busy) }));
}
