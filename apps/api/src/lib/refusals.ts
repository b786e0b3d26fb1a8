import { type Ctx, ForbiddenError } from "@celine/core";

/**
 * The audit record of a refusal that reaches a transport without one: a ForbiddenError a verb threw
 * itself instead of through core's `refuse`. Every refusal is audited exactly once: those `refuse`
 * wrote are marked and left alone. `action` names what was asked (`GET /api/…`, a procedure path).
 */
export function auditUnrecorded(error: unknown, ctx: Ctx | undefined, action: string): void {
  if (!(error instanceof ForbiddenError) || error.audited || !ctx) return;
  const { actor } = ctx;
  const caller = actor.kind === "participant" || actor.kind === "service" ? actor : null;
  ctx.audit({
    event: "denied",
    action,
    sub: caller?.id ?? null,
    client_id: caller?.clientId ?? null,
    reason: error.message,
    request_id: ctx.requestId,
  });
  error.audited = true;
}
