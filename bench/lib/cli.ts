// What every benchmark script needs from its command line and its exit.

/** `--name=value` from the command line, as a number; `fallback` when absent. */
export function arg(name: string, fallback: number): number {
  return Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
}

/**
 * Steps that undo what the benchmark started (servers, databases), run newest first by `cleanUp()` —
 * at the end, or when interrupted (Ctrl-C, `timeout`) before leaving.
 */
export function createCleanups() {
  const steps: (() => Promise<void>)[] = [];
  async function cleanUp() {
    for (const step of steps.reverse()) await step().catch((e) => console.error(`cleanup: ${e}`));
    steps.length = 0;
  }
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => void cleanUp().finally(() => process.exit(130)));
  }
  return { push: (step: () => Promise<void>) => void steps.push(step), cleanUp };
}
