// `bun run debug`: the API (start.ts) under Bun's inspector, bound to 127.0.0.1 only — whoever
// reaches the inspector runs code in the process. Bun prints the inspector's URL, whose path is the
// session's secret, on stderr; it is kept out of the logs: written to a file only this user can read
// (INSPECTOR_URL_FILE, default .inspector-url in the working directory), and the banner is dropped.
import { chmodSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const port = Number(process.env.INSPECT_PORT || 48017);
const urlFile = resolve(process.env.INSPECTOR_URL_FILE || ".inspector-url");
const script = resolve(import.meta.dir, "start.ts");

const child = Bun.spawn([process.execPath, `--inspect=127.0.0.1:${port}`, script], {
  stdin: "inherit",
  stdout: "inherit",
  stderr: "pipe",
  env: process.env,
});
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, () => child.kill(signal));

/** Lines of Bun's inspector banner (its frame, headings and URLs); everything else passes. */
const BANNER = /^-+ Bun Inspector -+$|^(Inspect in browser|Listening):$|debug\.bun\.sh|^\s*wss?:\/\//;
let secret: string | null = null;
let pending = "";
const decoder = new TextDecoder();
const reader = child.stderr.getReader();
for (;;) {
  const { done, value } = await reader.read();
  if (done) break;
  pending += decoder.decode(value, { stream: true });
  const lines = pending.split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) {
    const url = /(wss?:\/\/127\.0\.0\.1:\d+\/[^\s]+)/.exec(line)?.[1];
    if (url && !secret) {
      secret = new URL(url).pathname.slice(1);
      writeFileSync(urlFile, `${url}\n`, { mode: 0o600 });
      chmodSync(urlFile, 0o600);
      console.error(
        JSON.stringify({
          level: "info",
          msg: "inspector listening",
          host: "127.0.0.1",
          port,
          url_file: urlFile,
        }),
      );
    }
    if (BANNER.test(line.trim())) continue;
    // Whatever else mentions the secret is not logged either.
    process.stderr.write(`${secret ? line.replaceAll(secret, "<inspector secret>") : line}\n`);
  }
}
if (pending) process.stderr.write(pending);
process.exit(await child.exited);
