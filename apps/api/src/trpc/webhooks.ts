import {
  CreateWebhookInput,
  createWebhook,
  deleteWebhook,
  listWebhooks,
  testWebhook,
  WebhookCreated,
  WebhookIdParam,
  WebhookList,
  WebhookTestOut,
} from "@celine/core";
import { z } from "zod";
import { procedure } from "./init.ts";

/** The webhook procedures (nested under `webhooks.` in the router). */
export const webhooks = {
  create: procedure
    .input(CreateWebhookInput)
    .output(WebhookCreated)
    .mutation(({ ctx, input }) => createWebhook({ ctx: ctx.verb, input })),
  list: procedure.output(WebhookList).query(({ ctx }) => listWebhooks({ ctx: ctx.verb })),
  delete: procedure
    .input(WebhookIdParam)
    .output(z.null())
    .mutation(async ({ ctx, input }) => {
      await deleteWebhook({ ctx: ctx.verb, input });
      return null;
    }),
  test: procedure
    .input(WebhookIdParam)
    .output(WebhookTestOut)
    .mutation(({ ctx, input }) => testWebhook({ ctx: ctx.verb, input })),
};
