import type { TRPCBuiltRouter, TRPCDecorateCreateRouterOptions, TRPCDefaultErrorShape } from "@trpc/server";
import { calendar } from "./calendar.ts";
import { commitments } from "./commitments.ts";
import { router } from "./init.ts";
import { members } from "./members.ts";
import { points } from "./points.ts";
import { settlement } from "./settlement.ts";
import { suggestions } from "./suggestions.ts";
import { webhooks } from "./webhooks.ts";

/**
 * Every procedure, by namespace (`commitments.create` …). Plain records rather than sub-routers:
 * a procedure's type names its input, output and error shape only, so the declarations of this
 * record — what a published client compiles against — carry nothing of the server.
 */
export const procedures = { calendar, commitments, members, points, settlement, suggestions, webhooks };

export const appRouter = router(procedures);

/**
 * The router as clients see it (`createTRPCClient<AppRouter>`): the same procedures and error
 * shape as `appRouter`, without the server's request context (identity resolution, core's Ctx),
 * which no client can supply. test/trpc.test.ts holds the two to the same procedures and config.
 */
export type AppRouter = TRPCBuiltRouter<
  { ctx: object; meta: object; errorShape: TRPCDefaultErrorShape; transformer: false },
  TRPCDecorateCreateRouterOptions<typeof procedures>
>;
