import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Debian's package; CI installs it (`.ci/run`). */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const hasChromium = existsSync(CHROMIUM);

/**
 * The DOM of `url` after its scripts ran, from headless Chromium. Every host but 127.0.0.1 fails
 * to resolve, so a page that reaches for a CDN renders without it: what passes here renders offline.
 */
export async function renderDom(url: string, budgetMs = 15_000): Promise<string> {
  const profile = await mkdtemp(join(tmpdir(), "celine-chromium-"));
  try {
    const proc = Bun.spawn(
      [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        `--user-data-dir=${profile}`,
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        `--virtual-time-budget=${budgetMs}`,
        "--dump-dom",
        url,
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    const killer = setTimeout(() => proc.kill(), budgetMs + 45_000);
    const [dom, errors, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    clearTimeout(killer);
    if (code !== 0) throw new Error(`chromium exited ${code}: ${errors.slice(-2000)}`);
    return dom;
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}
