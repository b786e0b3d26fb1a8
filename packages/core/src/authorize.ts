import type { Actor, Ctx, PolicyInput } from "./context.ts";
import { ForbiddenError } from "./errors.ts";
import { messageOf } from "./lib/message-of.ts";

/**
 * `record`: a service records a commitment on a member's behalf; `erase`: a service erases everything
 * held about a member (both operators only: `flexibility.admin`); `calendar`: a participant mints
 * their own calendar feed's secret URL (no service may); `webhook`: a participant manages their own
 * webhook subscriptions, a service (`flexibility.admin`) its subscriptions to a community's events.
 */
export type Action =
  | "read"
  | "write"
  | "delete"
  | "respond"
  | "service"
  | "settle"
  | "export"
  | "record"
  | "erase"
  | "calendar"
  | "webhook";

/**
 * Ask the policy; throw ForbiddenError with the policy's reason on anything but an allow.
 * The system actor (our own scheduled jobs) is not a caller and needs no decision.
 * Participants are only ever asked about resources they are scoped to, so `ownerId` for them is
 * the row's owner or, before a row is loaded, themselves (queries are then filtered by owner).
 */
export async function authorize(
  ctx: Ctx,
  action: Action,
  resource: { type: string; ownerId?: string | undefined },
): Promise<void> {
  if (ctx.actor.kind === "system") return;
  const input: PolicyInput = {
    subject: ctx.actor.kind === "anonymous" ? null : subjectOf(ctx.actor),
    action: { name: action },
    resource: {
      type: resource.type,
      attributes: resource.ownerId === undefined ? {} : { owner_id: resource.ownerId },
    },
  };
  const decision = await ctx.authorizer(input).catch((error: unknown) => ({
    allow: false,
    reason: `policy error: ${messageOf(error)}`,
  }));
  if (decision.allow === true) return;
  throw refuse(ctx, action, decision.reason);
}

/**
 * The refusal of `ctx`'s caller, its one audit record written: throw what it returns. For the
 * policy's denials and for a verb's own refusals after the policy admitted the caller.
 */
export function refuse(ctx: Ctx, action: string, reason: string): ForbiddenError {
  const { actor } = ctx;
  ctx.audit({
    event: "denied",
    action,
    sub: actor.kind === "participant" || actor.kind === "service" ? actor.id : null,
    client_id: actor.kind === "participant" || actor.kind === "service" ? actor.clientId : null,
    reason,
    request_id: ctx.requestId,
  });
  const error = new ForbiddenError(reason);
  error.audited = true;
  return error;
}

function subjectOf(
  actor: Extract<Actor, { kind: "participant" | "service" }>,
): NonNullable<PolicyInput["subject"]> {
  return { id: actor.id, is_service: actor.kind === "service", scopes: actor.scopes, roles: actor.roles };
}

/** The owner a participant is confined to; undefined for services (they name the owner). */
export function ownScope(actor: Actor): string | undefined {
  return actor.kind === "participant" ? actor.id : undefined;
}
