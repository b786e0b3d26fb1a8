import { validationErrorOf } from "@celine/core";
import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../lib/app-env.ts";
import { problem } from "../lib/problem.ts";

/** Every router shares this: a failed request validation is a 422 problem naming the fields. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result, c) => {
      if (result.success) return;
      const error = validationErrorOf(result.error);
      return problem(c, 422, error.message, { errors: error.issues });
    },
  });
}

/** Both ways a caller can present its token (PLATFORM §2). */
export const SECURED: Record<string, string[]>[] = [{ bearerAuth: [] }, { proxyToken: [] }];
