import {
  type CoreConfig,
  type Logger,
  type Metrics,
  type Platform,
  pruneProcessedRuns,
  startOutboxRelay,
  systemCtx,
  withTimeout,
} from "@celine/core";
import type { Database } from "@celine/core/db";
import { type MqttLoginSource, prefixTopic } from "@celine/platform";
import { type BrokerSubscription, subscribeForever } from "./broker.ts";
import { createDispatcher, type Dispatcher, type MakeCtx } from "./dispatch.ts";
import { HANDLERS, type HandlerName, type RunHandler } from "./handlers/index.ts";
import { type ProbeServer, type Readiness, serveProbes } from "./http.ts";
import { createTopics, RUNS_TOPIC } from "./topics.ts";

// The listener process minus its configuration: broker subscription → dispatcher → core verbs,
// the outbox relay, and the probe endpoints. Entry points (index.ts) and tests assemble it.

export type ListenerOptions = {
  database: Database;
  platform: Platform;
  config: CoreConfig;
  log: Logger;
  metrics: Metrics;
  broker: {
    url: string;
    clientId?: string;
    protocolVersion?: 4 | 5;
    clean?: boolean;
    login?: MqttLoginSource;
    reconnect?: { minMs: number; maxMs: number };
    keepaliveSeconds?: number;
  };
  /** CELINE_MQTT_TOPIC_PREFIX */
  topicPrefix?: string;
  /** LISTENER_SHARE_GROUP: replicas in one group share the runs. */
  shareGroup?: string | undefined;
  flows: Record<string, HandlerName>;
  /** The handlers by name (tests swap one for a slow or failing double). */
  handlers?: Record<HandlerName, RunHandler>;
  /** Probe endpoints; `false` for none. */
  /** The probes' port; `metricsToken` closes its /metrics to callers without it (METRICS_TOKEN). */
  http?: { port: number; hostname?: string; metricsToken?: string | undefined } | false;
  /** The outbox relay in this process (default on); `batch` per round, `pollMs` for tests. */
  relay?: false | { pollMs?: number; batch?: number };
  /** How long stop() waits for handlers in flight (ms). */
  drainTimeoutMs?: number;
  now?: () => Date;
};

export type Listener = {
  /** The probe server's port (null without one). */
  port: number | null;
  broker: BrokerSubscription;
  dispatcher: Dispatcher;
  readiness(): Promise<Readiness>;
  /** Stop taking messages, let handlers in flight finish (bounded), disconnect, stop the relay. */
  stop(): Promise<{ drained: boolean }>;
};

/** Handled runs are kept this long (a redelivery comes within minutes; a month is generous). */
const PROCESSED_RUNS_KEPT_MS = 30 * 24 * 3_600_000;
const PRUNE_EVERY_MS = 6 * 3_600_000;
const DB_PING_TIMEOUT_MS = 2_000;

export async function startListener(opts: ListenerOptions): Promise<Listener> {
  const { database, platform, config, metrics } = opts;
  const log = opts.log.child({ component: "listener" });
  const now = opts.now ?? (() => new Date());
  const topicPrefix = opts.topicPrefix ?? "";
  let stopping = false;

  /** The listener acts as the system; a run's id is in every log line of its handling. */
  const ctxFor = (runId: string | null) =>
    systemCtx({
      db: database.db,
      platform,
      config,
      log: runId ? log.child({ run_id: runId }) : log,
      metrics,
      now,
      requestId: runId,
      job: "the listener",
    });
  const makeCtx: MakeCtx = ({ runId }) => ctxFor(runId);

  const dispatcher = createDispatcher({
    routes: createTopics({ flows: opts.flows, handlers: opts.handlers ?? HANDLERS }),
    topicPrefix,
    makeCtx,
    log,
    metrics,
  });

  const relay =
    opts.relay === false
      ? null
      : await startOutboxRelay({
          database,
          platform,
          log,
          metrics,
          now,
          allowPrivateWebhookTargets: config.allowPrivateWebhookTargets,
          pollMs: opts.relay?.pollMs,
          batch: opts.relay?.batch,
        });

  const filter = prefixTopic(topicPrefix, RUNS_TOPIC);
  const broker = subscribeForever({
    url: opts.broker.url,
    clientId: opts.broker.clientId ?? `svc-flexibility-listener-${crypto.randomUUID().slice(0, 8)}`,
    protocolVersion: opts.broker.protocolVersion ?? 4,
    clean: opts.broker.clean,
    topics: [opts.shareGroup ? `$share/${opts.shareGroup}/${filter}` : filter],
    login: opts.broker.login ?? (async () => ({})),
    reconnect: opts.broker.reconnect ?? { minMs: 500, maxMs: 30_000 },
    keepaliveSeconds: opts.broker.keepaliveSeconds,
    onMessage: (topic, payload) => {
      void dispatcher.dispatch(topic, payload);
    },
    log,
    metrics,
  });

  async function prune(): Promise<void> {
    try {
      const removed = await pruneProcessedRuns({
        ctx: ctxFor(null),
        input: { before: new Date(now().getTime() - PROCESSED_RUNS_KEPT_MS) },
      });
      if (removed > 0) log.info("forgot old handled runs", { removed });
    } catch (error) {
      log.warn("pruning handled runs failed", { error });
    }
  }
  void prune();
  const pruneTimer = setInterval(() => void prune(), PRUNE_EVERY_MS);
  pruneTimer.unref?.();

  async function readiness(): Promise<Readiness> {
    const checks: Record<string, string> = {};
    checks.broker = broker.ready() ? "ok" : broker.state();
    try {
      await withTimeout(database.ping(), DB_PING_TIMEOUT_MS, "database ping");
      checks.database = "ok";
    } catch (error) {
      // /ready needs no token: the driver's message (hosts, ports, user names) goes to the log only.
      log.warn("readiness: database unreachable", { error });
      checks.database = "unreachable";
    }
    if (stopping) checks.process = "stopping";
    return { ready: !stopping && checks.broker === "ok" && checks.database === "ok", checks };
  }

  let probes: ProbeServer | null = null;
  if (opts.http !== false) {
    probes = serveProbes({
      port: opts.http?.port ?? 8018,
      hostname: opts.http?.hostname,
      readiness,
      metrics,
      metricsToken: opts.http?.metricsToken,
    });
  }
  log.info("listener started", {
    topics: [opts.shareGroup ? `$share/${opts.shareGroup}/${filter}` : filter],
    flows: opts.flows,
    http_port: probes?.port ?? null,
  });

  let stopped: Promise<{ drained: boolean }> | null = null;
  return {
    port: probes?.port ?? null,
    broker,
    dispatcher,
    readiness,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        clearInterval(pruneTimer);
        await broker.pause();
        const drained = await dispatcher.drain(opts.drainTimeoutMs ?? 20_000);
        if (!drained) log.warn("stopping with handlers still running", { in_flight: dispatcher.inFlight() });
        await broker.close();
        await relay?.stop();
        await probes?.stop();
        log.info("listener stopped", { drained });
        return { drained };
      })();
      return stopped;
    },
  };
}
