import { and, count, eq, sql } from "drizzle-orm";
import { refuse } from "../authorize.ts";
import { type Ctx, withTransaction } from "../context.ts";
import { webhooks } from "../db/schema.ts";
import { ConflictError, ValidationError } from "../errors.ts";
import { messageOf } from "../lib/message-of.ts";
import {
  CreateWebhookInput,
  MAX_WEBHOOKS,
  type WebhookCreated,
  WebhookEventType,
} from "../schemas/webhooks.ts";
import { parseInput } from "../validate.ts";
import { toWebhookOut } from "./out.ts";
import { webhookOwner } from "./owner.ts";
import { newWebhookSecret } from "./secret.ts";
import { targetRefusal } from "./target.ts";

/**
 * Subscribe a URL to events. A participant subscribes to their own; a service (flexibility.admin)
 * to a community's (`community_id`, required). At most MAX_WEBHOOKS per member, and per service and
 * community (409 beyond). Outside development the target must be https on public addresses only
 * (422 naming why). The answer carries the signing secret: it is never shown again.
 */
export async function createWebhook({
  ctx,
  input,
}: {
  ctx: Ctx;
  input: CreateWebhookInput;
}): Promise<WebhookCreated> {
  const owner = await webhookOwner(ctx);
  const data = parseInput(CreateWebhookInput, input);
  const communityId = data.community_id ?? null;
  if (owner.kind === "member" && communityId !== null) {
    throw refuse(
      ctx,
      "webhook",
      "a participant subscribes to their own events; only a service with flexibility.admin subscribes to a community",
    );
  }
  if (owner.kind === "service" && communityId === null) {
    const message = "required when a service subscribes (the community whose events to receive)";
    throw new ValidationError(`community_id: ${message}`, [{ path: "community_id", message }]);
  }
  await checkTarget(ctx, data.url);

  const row = {
    userId: owner.kind === "member" ? owner.userId : null,
    communityId,
    createdBy: owner.kind === "member" ? owner.userId : owner.serviceId,
    url: data.url,
    secret: newWebhookSecret(),
    events: data.events ?? [...WebhookEventType.options],
    createdAt: ctx.now(),
  };
  const scope =
    row.userId !== null
      ? eq(webhooks.userId, row.userId)
      : and(eq(webhooks.createdBy, row.createdBy), eq(webhooks.communityId, communityId ?? ""));
  const created = await withTransaction(ctx, async (tx) => {
    // Concurrent creates of one owner count one after the other: the limit holds.
    const key =
      row.userId !== null
        ? `flexibility_webhooks:member:${row.userId}`
        : `flexibility_webhooks:service:${row.createdBy}:${communityId}`;
    await tx.db.execute(sql`select pg_advisory_xact_lock(hashtext(${key}))`);
    const [held] = await tx.db.select({ n: count() }).from(webhooks).where(scope);
    if ((held?.n ?? 0) >= MAX_WEBHOOKS) {
      throw new ConflictError(
        `at most ${MAX_WEBHOOKS} webhooks ${row.userId !== null ? "per member" : `per service for community ${communityId}`}: delete one first`,
      );
    }
    const [inserted] = await tx.db.insert(webhooks).values(row).returning();
    if (!inserted) throw new Error("the webhook insert returned no row");
    return inserted;
  });
  ctx.log.info("webhook created", {
    webhook_id: created.id,
    community_id: communityId,
    events: created.events,
  });
  return { ...toWebhookOut(created), secret: created.secret };
}

/** 422 naming why the URL may not receive webhooks (a host that does not resolve included). */
async function checkTarget(ctx: Ctx, url: string): Promise<void> {
  let refusal: string | null;
  try {
    refusal = await targetRefusal(url, {
      allowPrivate: ctx.config.allowPrivateWebhookTargets,
      resolve: (host) => ctx.platform.webhooks.resolve(host),
    });
  } catch (error) {
    refusal = `cannot resolve its host: ${messageOf(error)}`;
  }
  if (refusal) {
    const message = `not a permitted webhook target: ${refusal}`;
    throw new ValidationError(`url: ${message}`, [{ path: "url", message }]);
  }
}
