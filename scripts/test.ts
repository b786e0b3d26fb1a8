// Runs `bun test` over the workspace and closes with the plain `N passed, N failed` line that CI
// reads (bun's own summary uses `N pass` / `N fail`). Exit code: bun's, or 1 when nothing ran.
const args = process.argv.slice(2);
// Integration suites start servers and databases: a generous per-test limit, but never a hang.
const proc = Bun.spawn(["bun", "test", "--timeout", "60000", ...args], {
  stdout: "pipe",
  stderr: "pipe",
  env: process.env,
});

let transcript = "";
async function pump(stream: ReadableStream<Uint8Array>, sink: NodeJS.WriteStream) {
  const decoder = new TextDecoder();
  const reader = stream.getReader();
  for (let next = await reader.read(); !next.done; next = await reader.read()) {
    const text = decoder.decode(next.value, { stream: true });
    transcript += text;
    sink.write(text);
  }
}
await Promise.all([pump(proc.stdout, process.stdout), pump(proc.stderr, process.stderr)]);
const code = await proc.exited;

const count = (label: string) => {
  const match = transcript.match(new RegExp(`^\\s*(\\d+) ${label}$`, "m"));
  return match ? Number(match[1]) : 0;
};
const passed = count("pass");
const failed = count("fail");
const skipped = count("skip");
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(code !== 0 ? code : passed === 0 ? 1 : 0);

export {};
