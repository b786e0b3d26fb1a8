// Pipeline runs: the listener's once-per-run bookkeeping.
export { pruneProcessedRuns, runOnce } from "./run-once.ts";
