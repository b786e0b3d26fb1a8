// Pipeline runs: the listener's once-per-run bookkeeping.
export { pruneProcessedRuns, type RunOnceOutcome, runOnce } from "./run-once.ts";
