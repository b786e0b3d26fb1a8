// What every benchmark section of bench/RESULTS.md starts with (the machine, the date, the runtime),
// Markdown tables padded as the formatter writes them, and the `--write` section replacement.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { arch, availableParallelism, platform, totalmem } from "node:os";
import { join } from "node:path";

export const RESULTS_FILE = join(import.meta.dir, "..", "RESULTS.md");

/** `2 × AMD EPYC, 23.5 GiB, linux/x64, Bun 1.4.5, 2026-11-27` — one line for a section header. */
export function describeMachine(): string {
  const model = cpuModel();
  const gib = (totalmem() / 2 ** 30).toFixed(1);
  const date = new Date().toISOString().slice(0, 10);
  return `${date}, nproc ${availableParallelism()} (${model}), ${gib} GiB, ${platform()}/${arch()}, Bun ${Bun.version}`;
}

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    return line?.split(":")[1]?.trim() || "unknown CPU";
  } catch {
    return "unknown CPU";
  }
}

/** A Markdown table with padded columns; the first row is the header. */
export function formatTable(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, c) => Math.max(3, ...rows.map((r) => [...(r[c] ?? "")].length)));
  const line = (r: string[]) =>
    `| ${r.map((cell, c) => cell + " ".repeat((widths[c] ?? 0) - [...cell].length)).join(" | ")} |`;
  const [head, ...body] = rows;
  return [line(head ?? []), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...body.map(line)];
}

/** Replace the section `## <title>` of RESULTS.md (up to the next `## `), or append it; others are kept. */
export function writeSection(title: string, section: string): void {
  const heading = `## ${title}`;
  const current = existsSync(RESULTS_FILE) ? readFileSync(RESULTS_FILE, "utf8") : "# Benchmark results\n\n";
  const start = current.search(new RegExp(`^${escapeRegExp(heading)}$`, "m"));
  let next: string;
  if (start < 0) {
    next = `${current.trimEnd()}\n\n${section.trimEnd()}\n`;
  } else {
    const after = current.indexOf("\n## ", start + 1);
    next =
      current.slice(0, start) + section.trimEnd() + (after < 0 ? "\n" : `\n\n${current.slice(after + 1)}`);
  }
  writeFileSync(RESULTS_FILE, next.endsWith("\n") ? next : `${next}\n`);
  console.log(`updated ${RESULTS_FILE} (${heading})`);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Fixed decimals with thousands separators: 12,345.6. */
export function fmt(value: number, decimals = 0): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}
