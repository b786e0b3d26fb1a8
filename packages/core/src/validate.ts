import type { z } from "zod";
import { type FieldIssue, ValidationError } from "./errors.ts";

/** Parse with a schema; failures become one ValidationError naming every field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  throw validationErrorOf(result.error);
}

export function validationErrorOf(error: z.ZodError): ValidationError {
  const issues: FieldIssue[] = error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(body)",
    message: issue.message,
  }));
  return new ValidationError(issues.map((i) => `${i.path}: ${i.message}`).join("; "), issues);
}
