// The API on Deno (2.x) from the edge entry (src/edge.ts): PostgreSQL only, no outbox relay (run
// the listener for that). Configuration is the process environment, as for the other entry points.
// `bun run build:edge` bundles it (build-edge.ts); then
//   deno run --allow-net --allow-env dist/edge/deno.mjs
import { connectEdgeDatabase, createEdgeApp, parseEdgeEnv } from "../src/edge.ts";

// The part of Deno's global this entry uses (the workspace type-checks against bun-types).
declare const Deno: {
  version: { deno: string };
  env: { toObject(): Record<string, string> };
  serve(
    options: { port: number; onListen(address: { port: number }): void },
    handler: (request: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> };
  addSignalListener(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
  exit(code: number): never;
};

const env = parseEdgeEnv(Deno.env.toObject());
const database = connectEdgeDatabase(env);
const app = createEdgeApp(env, database);
const server = Deno.serve(
  {
    port: env.PORT,
    onListen: ({ port }) =>
      console.log(
        JSON.stringify({
          level: "info",
          msg: "listening",
          port,
          runtime: `deno ${Deno.version.deno}`,
          time: new Date().toISOString(),
        }),
      ),
  },
  (request) => app.fetch(request),
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.addSignalListener(signal, async () => {
    await server.shutdown();
    await database.close();
    Deno.exit(0);
  });
}
