// External tools the benchmarks drive. A missing tool is installed when we can (root with apt-get),
// otherwise the run stops naming the command that installs it.

const APT_PACKAGES: Record<string, string> = {
  wrk: "wrk",
  pgbench: "postgresql-contrib",
  psql: "postgresql-client",
  curl: "curl",
};

export async function requireTools(names: string[]): Promise<void> {
  const missing = names.filter((name) => !Bun.which(name));
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((name) => APT_PACKAGES[name] ?? name))];
  const install = `apt-get update && apt-get install -y ${packages.join(" ")}`;
  if (process.getuid?.() === 0 && Bun.which("apt-get")) {
    console.log(`missing ${missing.join(", ")}: running \`${install}\``);
    const proc = Bun.spawn(["sh", "-c", install], { stdout: "inherit", stderr: "inherit" });
    await proc.exited;
  }
  const still = names.filter((name) => !Bun.which(name));
  if (still.length > 0) {
    throw new Error(
      `missing tool(s): ${still.join(", ")}. Install them first, e.g. \`${install}\` (Debian).`,
    );
  }
}

/** Run a command to completion; throws with its stderr when it fails. */
export async function run(
  cmd: string[],
  opts: { env?: Record<string, string | undefined>; cwd?: string; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  const proc = Bun.spawn(cmd, {
    env: { ...process.env, ...opts.env },
    cwd: opts.cwd,
    stdout: "pipe",
    stderr: "pipe",
    timeout: opts.timeoutMs ?? 120_000,
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`${cmd[0]} exited with ${code}:\n${stderr || stdout}`);
  return { stdout, stderr };
}
