// The API's types as this client sees them — the one place the client reaches into the server,
// with type-only imports (nothing of the server is bundled). In the workspace they are derived
// live from apps/api; `bun run build` prints them out structurally into dist/api-types.d.ts, so
// the published declarations need neither the server nor its dependencies.

import type { AppType as ServerApp } from "@celine/api/app";
import type { AppRouter as ServerRouter } from "@celine/api/trpc";
import type { Hono } from "hono";
import type { BlankEnv, ExtractSchema } from "hono/types";

/** Resolves aliases and intersections into one plain object type (functions kept as they are). */
export type Expand<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends object
    ? { [K in keyof T]: Expand<T[K]> }
    : T;

/** Every REST route: path → `$method` → input, output and success status. */
export type ApiSchema = Expand<ExtractSchema<ServerApp>>;

/** What `hc` needs of the app: its route schema (middleware and variables play no part). */
export type AppType = Hono<BlankEnv, ApiSchema, "/">;

/** The tRPC router's type, for `createTRPCClient`. */
export type AppRouter = ServerRouter;
