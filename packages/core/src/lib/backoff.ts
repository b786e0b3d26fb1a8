// The one back-off rule: the wait doubles per failure from `baseMs` up to `maxMs`. Jitter spreads
// apart callers that failed together (replicas that lost the same broker, retries of one upstream):
// `full` draws from [0, step], `equal` from [step/2, step] (never hammers a flapping service),
// `none` waits the step exactly (the outbox's stored next attempt, which tests read).

export type Backoff = {
  /** Wait after the first failure (ms); doubled per further failure. */
  baseMs: number;
  /** Ceiling of the wait (ms): a recovered service is retried within this. */
  maxMs: number;
  /** Default `none`. */
  jitter?: "none" | "full" | "equal";
};

/** The wait (whole ms) before the retry that follows `failures` failed attempts (1 = the first failed). */
export function backoffDelay(failures: number, backoff: Backoff): number {
  // The exponent is capped so that a long outage cannot overflow to Infinity (0 · ∞ is NaN).
  const doublings = Math.min(Math.max(0, failures - 1), 30);
  const step = Math.min(backoff.maxMs, backoff.baseMs * 2 ** doublings);
  switch (backoff.jitter ?? "none") {
    case "none":
      return Math.round(step);
    case "full":
      return Math.round(Math.random() * step);
    case "equal":
      return Math.round(step / 2 + (Math.random() * step) / 2);
  }
}
