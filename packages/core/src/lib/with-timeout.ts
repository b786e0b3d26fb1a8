// A deadline for a promise that cannot be cancelled (a publish, an ingest, a ping, a drain): the
// caller stops waiting; the work itself goes on and its late result is ignored. Calls that can be
// cancelled (fetch) use an AbortController instead.

/** What `withTimeout` rejects with when the deadline passes first. */
export class TimeoutError extends Error {
  override name = "TimeoutError";
}

/** `work`'s outcome, or a TimeoutError "`what` timed out after `ms` ms" if it has not settled by then. */
export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Whether `work` settled (resolved or rejected) within `ms`; never rejects. */
export function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  return withTimeout(work, ms, "work").then(
    () => true,
    (error: unknown) => !(error instanceof TimeoutError),
  );
}
