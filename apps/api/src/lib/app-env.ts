import type { Authorizer, CoreConfig, Ctx, Logger, Metrics, Platform } from "@celine/core";
import type { Database } from "@celine/core/db";
import type { SocketAddress } from "./client-address.ts";
import type { TokenVerifier } from "./identity.ts";
import type { RateLimits } from "./rate-limit.ts";

/** Everything the app needs from the outside; entry points build it, tests build their own. */
export type AppDeps = {
  database: Pick<Database, "db" | "ping">;
  authorizer: Authorizer;
  /**
   * Whether the policy bundle loaded, and a probe of whether it can decide now (absent: `loaded`
   * alone); /ready reports both. `detail` (paths, URLs) is for logs, never served.
   */
  policy: { loaded: boolean; detail: string; probe?: () => Promise<boolean> };
  verifier: TokenVerifier;
  log: Logger;
  /** The dedicated audit logger: one line per refusal and per erasure of a member's data. */
  audit: Logger;
  core: CoreConfig;
  jwtHeaderName: string;
  docs: boolean;
  /** Serves static assets of the docs page (runtime-specific: files); absent → no /docs assets. */
  docsAsset?: (name: string) => Promise<Response | null>;
  now?: () => Date;
  /** Adapters to the Digital Twin, nudging tool, registry and broker (unconfigured → every call fails). */
  platform?: Platform;
  metrics: Metrics;
  /**
   * The runtime's synchronous full garbage collection (the Bun entry: `Bun.gc(true)`). A long export
   * calls it every few MiB it streams; absent → never (the runtime's own heuristics alone).
   */
  collectGarbage?: () => void;
  /** Abuse limits per caller and route class (RATE_LIMIT_*); absent → none (tests that need them say so). */
  rateLimits?: RateLimits;
  /** The most procedures one tRPC batch may call (TRPC_MAX_BATCH_SIZE); more → 400. Default 10. */
  trpcMaxBatchSize?: number;
  /** The connection's peer address (the Bun and Node entries); absent → only CLIENT_IP_HEADER names one. */
  socketAddress?: SocketAddress;
  /**
   * /metrics: `token` → only with `Authorization: Bearer <token>` (METRICS_TOKEN); `elsewhere` → not
   * served here at all (METRICS_PORT: the entry point serves it on its own port). Absent → open.
   */
  metricsAccess?: { token?: string | undefined; elsewhere?: boolean };
};

export type AppEnv = {
  Variables: {
    /** Ours, always (request-id.ts). */
    requestId: string;
    /** The client's own X-Request-Id when it was a safe token; logged beside ours. */
    clientRequestId: string | null;
    log: Logger;
    ctx: Ctx;
    collectGarbage: (() => void) | undefined;
  };
};
