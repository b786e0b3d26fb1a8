import { z } from "zod";
import { optionalSetting } from "./env.ts";

// Who may read /metrics, for the API and the listener alike. The counters say how busy the service
// is and which routes fail; they are not for the world. METRICS_TOKEN closes /metrics to anyone
// without `Authorization: Bearer <token>`; METRICS_PORT (the API) serves it on a port of its own,
// which a deployment keeps off the public ingress.

export const MetricsEnv = z.object({
  /** When set, /metrics answers only `Authorization: Bearer <METRICS_TOKEN>` (compared in constant time). */
  METRICS_TOKEN: optionalSetting(z.string().min(16, "must be at least 16 characters")),
  /** When set (the API), /metrics moves to this port, bound like the API's, and the API's port answers 404 for it. */
  METRICS_PORT: optionalSetting(z.coerce.number().int().min(1).max(65535)),
});
export type MetricsEnv = z.output<typeof MetricsEnv>;

/**
 * Whether `authorization` is `Bearer <token>`. Both sides are hashed first and the digests compared
 * byte by byte without an early exit, so the time taken says nothing about the token's length or
 * how much of it a guess got right.
 */
export async function presentsToken(
  authorization: string | null | undefined,
  token: string,
): Promise<boolean> {
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "")?.[1] ?? "";
  const [a, b] = await Promise.all([sha256(presented), sha256(token)]);
  let difference = presented.length === 0 || token.length === 0 ? 1 : 0;
  for (let i = 0; i < a.length; i += 1) difference |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return difference === 0;
}

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** The answer to a /metrics request without the token. */
export function metricsRefused(): Response {
  return new Response(JSON.stringify({ detail: "metrics need Authorization: Bearer <METRICS_TOKEN>" }), {
    status: 401,
    headers: { "content-type": "application/json", "www-authenticate": 'Bearer realm="metrics"' },
  });
}
