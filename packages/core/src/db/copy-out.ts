import type { Readable } from "node:stream";
import type { Db } from "./database.ts";

/** The two drivers' clients, as far as COPY needs them (typed structurally: no driver import here). */
type PostgresJsClient = {
  unsafe(query: string): { readable(): Promise<Readable> };
};
type PgliteClient = {
  query(query: string): Promise<{ blob?: Blob }>;
};

/**
 * `COPY (select) TO STDOUT` in text format: each step answers the chunks that arrived since the last
 * one, every chunk holding whole lines. The cheapest way out of PostgreSQL for bulk reads (no row
 * objects in the driver), and nothing is copied on the way: memory churn is what limits a big export. postgres.js streams it with
 * backpressure; PGlite answers the whole result at once (it is in-process anyway), so callers keep
 * each statement bounded with a LIMIT. COPY takes no bind parameters: `select` must already hold
 * its values as literals.
 *
 * `db` must be the root handle an adapter opened, not a transaction's.
 */
export async function* copyOut(db: Db, select: string): AsyncGenerator<Uint8Array[]> {
  const client = (db as { $client?: PostgresJsClient | PgliteClient }).$client;
  if (client && "unsafe" in client) {
    yield* lines(await client.unsafe(`copy (${select}) to stdout`).readable());
  } else if (client && "query" in client) {
    const { blob } = await client.query(`copy (${select}) to '/dev/blob'`);
    if (blob && blob.size > 0) yield [new Uint8Array(await blob.arrayBuffer())];
  } else {
    throw new Error("copyOut: needs the root handle of a postgres.js or PGlite database");
  }
}

/**
 * The stream's data, everything buffered per step. postgres.js pushes one whole line per COPY
 * message, so a chunk never splits a line. Left early (a client gone), the rest is read and dropped
 * rather than the stream destroyed: postgres.js would keep its connection paused forever.
 */
async function* lines(stream: Readable): AsyncGenerator<Uint8Array[]> {
  let ended = false;
  const end = new Promise<void>((resolve, reject) => {
    stream.once("end", () => {
      ended = true;
      resolve();
    });
    stream.once("error", reject);
  });
  end.catch(() => {}); // raised where it is awaited below
  try {
    for (;;) {
      const buffered: Uint8Array[] = [];
      for (let chunk = stream.read(); chunk !== null; chunk = stream.read()) buffered.push(chunk);
      if (buffered.length > 0) yield buffered;
      else if (ended) return;
      else await Promise.race([new Promise((resolve) => stream.once("readable", resolve)), end]);
    }
  } finally {
    if (!ended) {
      stream.on("data", () => {});
      await end.catch(() => {});
    }
    // postgres.js pauses its socket when a push fills the stream's buffer and resumes it only from the
    // stream's read hook. When that push was the last line, the COPY ends with the socket paused and
    // the pooled connection would never answer again: resume it here.
    (stream as Readable & { _read(size: number): void })._read(0);
  }
}
