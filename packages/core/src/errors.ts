// One domain error type per outcome a caller can act on. Transports map each kind exhaustively
// (REST → problem+json status, tRPC → TRPCError code); anything else is an unexpected 500.

export type FieldIssue = { path: string; message: string };

export class DomainError extends Error {
  constructor(
    readonly kind: "not_found" | "conflict" | "forbidden" | "unauthorized" | "validation" | "upstream",
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends DomainError {
  constructor(message = "not found") {
    super("not_found", message);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string) {
    super("conflict", message);
  }
}

/**
 * A refusal; `message` is the policy's (or the verb's) reason. `audited` once its audit record is
 * written (core's `refuse`): a transport writes the record of any refusal that reaches it without.
 */
export class ForbiddenError extends DomainError {
  audited = false;
  constructor(message: string) {
    super("forbidden", message);
  }
}

/** Identity could not be established (missing, expired or invalid token; JWKS unreachable). */
export class UnauthorizedError extends DomainError {
  constructor(message: string) {
    super("unauthorized", message);
  }
}

export class ValidationError extends DomainError {
  constructor(
    message: string,
    readonly issues: FieldIssue[] = [],
  ) {
    super("validation", message);
  }
}

/** A platform service we call failed; `upstream` names which one. */
export class UpstreamError extends DomainError {
  constructor(
    readonly upstream: string,
    message: string,
    readonly status?: number,
  ) {
    super("upstream", `${upstream}: ${message}`);
  }
}
