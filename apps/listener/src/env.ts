import type { SettlementMethod } from "@celine/core";
import { type Env, optionalSetting, PlatformEnv, parseEnv, withSettlementMethod } from "@celine/platform/env";
import { MetricsEnv } from "@celine/platform/metrics-access";
import { z } from "zod";
import { HANDLER_NAMES, type HandlerName } from "./handlers/index.ts";

/** PLATFORM §6: the meter tick has two names; forecasts announce opportunities; the daily flow settles. */
export const DEFAULT_FLOWS: Record<string, HandlerName> = {
  "meters-flow": "meter-tick",
  "rec-metering-flow": "meter-tick",
  "rec-forecasting-flow": "opportunities",
  "rec-flexibility-flow": "settlement",
};

const positiveMs = (fallback: number) => z.coerce.number().int().min(0).default(fallback);

const flowMap = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined || text.trim() === "") return DEFAULT_FLOWS;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: 'not JSON (e.g. {"meters-flow":"meter-tick"})' });
      return z.NEVER;
    }
  })
  .pipe(
    z.record(
      z.string().min(1),
      z.enum(HANDLER_NAMES, { message: `handler must be one of ${HANDLER_NAMES.join(", ")}` }),
    ),
  );

export const ListenerEnv = PlatformEnv.extend({
  LISTENER_PORT: z.coerce.number().int().min(0).max(65535).default(8018),
  /** Replicas with the same group share the runs (`$share/<group>/…`); unset → every replica gets every run. */
  LISTENER_SHARE_GROUP: optionalSetting(z.string().regex(/^[^/+#]+$/, "must not contain /, + or #")),
  /** 4 = MQTT 3.1.1 (default), 5 = MQTT 5. */
  CELINE_MQTT_PROTOCOL_VERSION: z
    .enum(["4", "5", "3.1.1", "5.0"])
    .default("4")
    .transform((v) => (v === "5" || v === "5.0" ? 5 : 4)),
  /** JSON object flow → handler (`meter-tick`, `opportunities`, `settlement`). */
  LISTENER_FLOWS: flowMap,
  /** MQTT client id; a random one by default (clean sessions do not need a stable id). */
  LISTENER_CLIENT_ID: z.string().optional(),
  /** How long SIGTERM waits for handlers already running before disconnecting anyway. */
  LISTENER_DRAIN_TIMEOUT_MS: positiveMs(20_000),
  /** Reconnect backoff: first delay, doubling up to the cap, with jitter. */
  LISTENER_RECONNECT_MIN_MS: positiveMs(500),
  LISTENER_RECONNECT_MAX_MS: positiveMs(30_000),
  /** Outbox entries the relay claims and delivers concurrently per round (unset → the relay's default, 50). */
  OUTBOX_RELAY_BATCH: z.coerce.number().int().min(1).max(1_000).optional(),
  /** Scope asked for the broker login token when CELINE_MQTT_AUTH=jwt. */
  CELINE_MQTT_SCOPE: z.string().optional(),
  // The probes' port is the listener's own (no public API shares it); /metrics there can want a token.
}).extend(MetricsEnv.pick({ METRICS_TOKEN: true }).shape);
/** The environment, and the settlement method read from the file it names. */
export type ListenerEnv = z.output<typeof ListenerEnv> & { method: SettlementMethod };

/** Parse the environment once; every problem is named in one error. */
export function parseListenerEnv(env: Env): ListenerEnv {
  return withSettlementMethod(parseEnv(ListenerEnv, env));
}
