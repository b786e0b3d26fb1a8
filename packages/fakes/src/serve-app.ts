/** A fake served on loopback. */
export type ServedApp = { url: string; port: number; close(): Promise<void> };

/**
 * Serves a fetch handler on 127.0.0.1 (tests never reach past loopback).
 * `idleTimeout: 0` because a hung call must stay open until the client aborts or the fake is reset.
 */
export function serveApp(
  fetch: (request: Request) => Response | Promise<Response>,
  opts: { port?: number; onClose?: () => void } = {},
): ServedApp {
  const server = Bun.serve({ hostname: "127.0.0.1", port: opts.port ?? 0, idleTimeout: 0, fetch });
  const port = server.port ?? 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async close() {
      opts.onClose?.();
      await server.stop(true);
    },
  };
}
