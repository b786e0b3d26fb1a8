// Decision latency of the access policy (policies/flexibility.rego) through decide(), against its ceiling:
// the same rules hand-written in TypeScript, measured in the same run on the same inputs.
// `bun run bench/policy.bench.ts [--write]` prints results; --write updates the "Policy decisions"
// section of bench/RESULTS.md (other sections are kept).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { arch, cpus, platform, totalmem } from "node:os";
import { join } from "node:path";
import { ACCESS_ENTRYPOINT, decideAccessByHand, loadAccessPolicy } from "@celine/policy/testing";

const DECISIONS = 100_000;
const WARMUP = 20_000;

const ACTIONS = [
  "read",
  "write",
  "delete",
  "respond",
  "calendar",
  "webhook",
  "service",
  "settle",
  "export",
  "record",
  "erase",
  "launch",
];
const SCOPE_SETS = [
  [],
  ["flexibility.commitments.read"],
  ["flexibility.commitments.write"],
  ["flexibility.commitments.export"],
  ["flexibility.admin"],
  ["flexibility.read", "openid", "profile"],
  ["flexibility.write"],
];

/** A deterministic spread of inputs: participants (owner / stranger), services with each scope set, anonymous (some reading a calendar feed). */
function buildInputs(n: number): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < n; i++) {
    const action = { name: ACTIONS[i % ACTIONS.length] };
    const owner = i % 3 === 0 ? "user-1" : `user-${i % 17}`;
    const kind = i % 10;
    // Every other anonymous request reads a calendar feed by its secret (subject null, owner resolved).
    const type = kind === 9 && i % 20 === 9 ? "calendar_feed" : "commitment";
    const resource = { type, attributes: { owner_id: owner } };
    let subject: unknown;
    if (kind === 9) subject = null;
    else if (kind < 4) subject = { id: "user-1", is_service: false, scopes: [], roles: ["participant"] };
    else
      subject = {
        id: "svc-optimizer",
        is_service: true,
        scopes: SCOPE_SETS[i % SCOPE_SETS.length],
        roles: [],
      };
    out.push({ subject, action, resource });
  }
  return out;
}

type Stats = { medianUs: number; p99Us: number; meanUs: number; allowed: number };

function measure(inputs: unknown[], decide: (input: unknown) => { allow: boolean }): Stats {
  for (let i = 0; i < WARMUP; i++) decide(inputs[i % inputs.length]);
  const samples = new Float64Array(DECISIONS);
  let allowed = 0;
  for (let i = 0; i < DECISIONS; i++) {
    const input = inputs[i % inputs.length];
    const t0 = Bun.nanoseconds();
    const d = decide(input);
    samples[i] = Bun.nanoseconds() - t0;
    if (d.allow) allowed++;
  }
  samples.sort();
  const at = (q: number) =>
    (samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? 0) / 1000;
  const meanUs = samples.reduce((a, b) => a + b, 0) / samples.length / 1000;
  return { medianUs: at(0.5), p99Us: at(0.99), meanUs, allowed };
}

/** A Markdown table with padded columns, as the repository's formatter writes them. */
function formatTable(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(3, ...rows.map((r) => [...(r[c] ?? "")].length)));
  const line = (r: string[]) =>
    `| ${r.map((cell, c) => cell + " ".repeat((widths[c] ?? 0) - [...cell].length)).join(" | ")} |`;
  const [head, ...body] = rows;
  return [line(head ?? []), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...body.map(line)];
}

const policy = loadAccessPolicy();
const inputs = buildInputs(1000);
for (const input of inputs) {
  const a = policy.decide(ACCESS_ENTRYPOINT, input);
  const b = decideAccessByHand(input);
  if (a.allow !== b.allow || a.reason !== b.reason)
    throw new Error(`policy and ceiling disagree on ${JSON.stringify(input)}`);
}

const rego = measure(inputs, (input) => policy.decide(ACCESS_ENTRYPOINT, input));
const ceiling = measure(inputs, decideAccessByHand);

const fmt = (n: number) => n.toFixed(2);
const machine = `${cpus()[0]?.model ?? "unknown CPU"} × ${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, ${platform()}/${arch()}, Bun ${Bun.version}`;
const date = new Date().toISOString().slice(0, 10);
const goalMet = rego.medianUs <= 20;

const section = [
  "## Policy decisions",
  "",
  `\`bun run bench/policy.bench.ts --write\` — ${date}, ${machine}.`,
  "",
  `${DECISIONS.toLocaleString("en")} decisions of \`celine.flexibility.access\` (after ${WARMUP.toLocaleString("en")} warm-up) over`,
  "1,000 varied inputs (participant owner/stranger, services with each scope set, anonymous, 8 actions);",
  "per-decision wall time with `Bun.nanoseconds()`. `decide()` evaluates `allow`, then `reason`.",
  "",
  ...formatTable([
    ["implementation", "median µs", "p99 µs", "mean µs", "allowed"],
    [
      "Rego evaluator, `decide()`",
      fmt(rego.medianUs),
      fmt(rego.p99Us),
      fmt(rego.meanUs),
      String(rego.allowed),
    ],
    [
      "ceiling: hand-written TypeScript",
      fmt(ceiling.medianUs),
      fmt(ceiling.p99Us),
      fmt(ceiling.meanUs),
      String(ceiling.allowed),
    ],
  ]),
  "",
  `Goal median ≤ 20 µs: ${goalMet ? "met" : "NOT met"} (${fmt(rego.medianUs / Math.max(ceiling.medianUs, 0.001))}× the ceiling's median; the timer's own`,
  "overhead, tens of ns, is in both rows).",
  "",
].join("\n");

console.log(section);

if (process.argv.includes("--write")) {
  const file = join(import.meta.dir, "RESULTS.md");
  const current = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmark results\n\n";
  const start = current.indexOf("## Policy decisions");
  let next: string;
  if (start < 0) {
    next = `${current.trimEnd()}\n\n${section}`;
  } else {
    const after = current.indexOf("\n## ", start + 1);
    next = current.slice(0, start) + section + (after < 0 ? "" : `\n${current.slice(after + 1)}`);
  }
  writeFileSync(file, next.endsWith("\n") ? next : `${next}\n`);
  console.log(`updated ${file}`);
}
