import type { z } from "zod";

/** One line naming every violation, e.g. `payload: Unrecognized key: "limit"; payload.device_id: Required`. */
export function describeIssues(error: z.ZodError, prefix?: string): string {
  return error.issues
    .map((issue) => {
      const path = [...(prefix ? [prefix] : []), ...issue.path.map(String)];
      const where = path.length > 0 ? path.join(".") : "body";
      return `${where}: ${issue.message}`;
    })
    .join("; ");
}
