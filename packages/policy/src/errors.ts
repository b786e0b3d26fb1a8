// One error type for everything the evaluator reports; `code` follows OPA's error codes so callers and the
// conformance runner can match on them (rego_parse_error, eval_conflict_error, eval_type_error …).

export type Location = { file: string; line: number; col: number };

export class RegoError extends Error {
  readonly code: string;
  readonly location: Location | undefined;

  constructor(code: string, message: string, location?: Location) {
    // OPA's format, `file:line: code: message`; the column stays available in `location`.
    super(location ? `${location.file}:${location.line}: ${code}: ${message}` : `${code}: ${message}`);
    this.name = "RegoError";
    this.code = code;
    this.location = location;
  }
}

/** Raised by builtins; the evaluator turns it into an undefined expression unless errors are strict. */
export class BuiltinError extends Error {
  readonly code: "eval_type_error" | "eval_builtin_error";

  constructor(code: "eval_type_error" | "eval_builtin_error", message: string) {
    super(message);
    this.name = "BuiltinError";
    this.code = code;
  }
}

/**
 * What to report of something thrown. The evaluator does not depend on @celine/core, so it keeps
 * this one copy of core's `messageOf`.
 */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
