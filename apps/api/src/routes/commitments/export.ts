import { CommitmentOut, ExportQuery, exportCommitments, type Logger } from "@celine/core";
import { createRoute, type RouteHandler, z } from "@hono/zod-openapi";
import type { AppEnv } from "../../lib/app-env.ts";
import { problemResponses } from "../../lib/problem.ts";
import { SECURED } from "../openapi.ts";

export const route = createRoute({
  method: "get",
  path: "/api/commitments/export",
  tags: ["commitments"],
  summary: "Export every commitment, oldest first (data pipelines; scope flexibility.commitments.export)",
  description:
    "Without `limit`/`cursor` the body is one JSON array of every matching row, streamed. With them it is " +
    "one page, and `X-Next-Cursor` (and `Link: rel=next`) name the next. `Accept: application/x-ndjson` " +
    "answers one object per line instead.",
  security: SECURED,
  request: { query: ExportQuery },
  responses: {
    200: {
      description: "Commitments",
      headers: z.object({ "X-Next-Cursor": z.string().optional() }),
      content: {
        "application/json": { schema: z.array(CommitmentOut) },
        "application/x-ndjson": { schema: z.string() },
      },
    },
    ...problemResponses(401, 403, 422),
  },
});

export const handler: RouteHandler<typeof route, AppEnv> = async (c) => {
  const ndjson = (c.req.header("accept") ?? "").includes("application/x-ndjson");
  const query = c.req.valid("query");
  const { body, nextCursor } = await exportCommitments({
    ctx: c.var.ctx,
    input: query,
    format: ndjson ? "ndjson" : "json",
  });
  const headers = new Headers({ "content-type": ndjson ? "application/x-ndjson" : "application/json" });
  if (nextCursor) {
    const next = new URL(c.req.url);
    next.searchParams.set("cursor", nextCursor);
    headers.set("x-next-cursor", nextCursor);
    headers.set("link", `<${next.pathname}${next.search}>; rel="next"`);
  }
  return new Response(await streamOf(body, c.var.log, c.var.collectGarbage), {
    status: 200,
    headers,
  }) as never;
};

/**
 * Bytes streamed between two full garbage collections. An export allocates some 2.5 bytes of
 * short-lived buffers per byte it sends and holds almost none of them, but the driver's buffers (one
 * per socket read, sliced into a view per row) are, as measured, released only by a full collection,
 * which the runtime on its own runs late: 1,000,000 rows peaked at ~190 MiB of RSS without this, ~120 MiB
 * with it, for ~25 % more time (bench/RESULTS.md). Paged exports rarely reach it.
 */
export const COLLECT_EVERY_BYTES = 8 * 1024 * 1024;

/**
 * A pull-based byte stream over the verb's chunks; a client that goes away stops the query loop.
 * The first chunk is awaited before the answer starts, so a failure there is still a 500 problem;
 * a later one can only cut the stream short (and is logged).
 */
async function streamOf(
  chunks: AsyncIterable<Uint8Array>,
  log: Logger,
  collectGarbage: (() => void) | undefined,
): Promise<ReadableStream<Uint8Array>> {
  const iterator = chunks[Symbol.asyncIterator]();
  let head: IteratorResult<Uint8Array> | null = await iterator.next();
  let sinceCollection = 0;
  return new ReadableStream({
    async pull(controller) {
      try {
        const next = head ?? (await iterator.next());
        head = null;
        if (next.done) return controller.close();
        controller.enqueue(next.value);
        sinceCollection += next.value.length;
        if (collectGarbage && sinceCollection >= COLLECT_EVERY_BYTES) {
          sinceCollection = 0;
          collectGarbage();
        }
      } catch (error) {
        log.error("export stream failed", { error });
        controller.error(error);
      }
    },
    async cancel() {
      await iterator.return?.();
    },
  });
}
