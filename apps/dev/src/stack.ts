// The whole platform in one process for `bun run dev`: the API and the listener sharing one
// embedded PostgreSQL (PGlite is single-process: one Database object, opened once), an embedded
// MQTT broker, and the contract fakes playing the CELINE services around them — OIDC issuer,
// Digital Twin seeded with a demo community, nudging tool (printing every nudge), REC registry.
// Development posture only: CELINE_ENV=dev is forced, and nothing here is reachable from
// `bun run start`.
import { join, resolve } from "node:path";
import { assemble, parseApiEnv } from "@celine/api/server";
import {
  backfillReadings,
  createLogger,
  createMetrics,
  type LogSink,
  messageOf,
  OUTBOX_CHANNEL,
  systemCtx,
  toLocalTime,
} from "@celine/core";
import { meterChunks } from "@celine/core/db";
import {
  defaultOidcClients,
  startDigitalTwin,
  startEmbeddedBroker,
  startNudgingTool,
  startRecRegistry,
} from "@celine/fakes";
import { parseListenerEnv } from "@celine/listener/env";
import { startListener } from "@celine/listener/listener";
import { createPlatform } from "@celine/platform";
import { coreConfigOf, type Env } from "@celine/platform/env";
import { sql } from "drizzle-orm";
import { createControlApp, type DevInfo } from "./control.ts";
import {
  DEMO_COMMUNITY,
  DEMO_MEMBERS,
  demoWindows,
  seedDigitalTwin,
  seedRegistry,
} from "./demo-community.ts";
import { createDevClock } from "./dev-clock.ts";
import { startDevIssuer } from "./dev-issuer.ts";
import { createNudgeLog } from "./nudge-log.ts";
import { freePort, pickPort } from "./ports.ts";

export type DevStackOptions = {
  /** Root of everything persisted (PGlite, issuer key, clock); null = all in memory (tests). */
  dataDir: string | null;
  /** Interface the API (and /dev) listens on; loopback unless asked otherwise. */
  host: string;
  /** API port; 0 = any free port. Taken → the start fails (a second dev stack is running). */
  apiPort: number;
  /** Preferred ports: a taken one is replaced by a free one (Mosquitto often holds 1883). */
  oidcPort: number;
  /** The issuer port was asked for explicitly: it beats the one persisted from earlier runs. */
  oidcPortExplicit?: boolean;
  mqttPort: number;
  listenerPort: number;
  /** The process environment: the service's own settings (LOG_LEVEL, COMMUNITY_TIMEZONE …). */
  env: Env;
  sink: LogSink;
};

export type DevStack = {
  info: DevInfo;
  /** The configuration the API and the listener were started with (CELINE_ENV=dev). */
  env: Env;
  apiPort: number;
  /** Mints a member token with the persisted key (for the start-up banner). */
  memberToken(sub: string): Promise<string>;
  issuerMovedFrom: number | null;
  mqttPreferredTaken: boolean;
  /** Milliseconds each phase of the start took (the database's first start dominates: initdb). */
  timings: { platform_ms: number; database_ms: number; listener_ms: number };
  close(): Promise<void>;
};

const REPO_ROOT = resolve(import.meta.dir, "../../..");

export async function startDevStack(opts: DevStackOptions): Promise<DevStack> {
  const log = createLogger({
    level: parseApiEnv({ LOG_LEVEL: opts.env.LOG_LEVEL }).LOG_LEVEL,
    sink: opts.sink,
    fields: { service: "dev" },
  });
  const closers: Array<() => Promise<unknown>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse()) await close().catch(() => {});
  };

  try {
    // The API port is bound first: the JWKS URL the API trusts is /dev/jwks on that port.
    const apiPort = opts.apiPort === 0 ? await freePort() : opts.apiPort;
    let handler: (req: Request, server: Bun.Server<undefined>) => Response | Promise<Response> = () =>
      new Response(JSON.stringify({ detail: "starting" }), { status: 503 });
    const server = Bun.serve({ hostname: opts.host, port: apiPort, fetch: (req, srv) => handler(req, srv) });
    closers.push(() => server.stop(true));
    const apiUrl = `http://${opts.host === "0.0.0.0" ? "127.0.0.1" : opts.host}:${server.port}`;

    const begun = performance.now();
    const issuer = await startDevIssuer({
      dataDir: opts.dataDir,
      port: opts.oidcPort,
      insist: opts.oidcPortExplicit,
    });
    closers.push(issuer.close);
    const nudges = createNudgeLog();
    const nudgeLog = log.child({ component: "nudging-tool" });
    const mqtt = await pickPort(opts.mqttPort);
    const [broker, dt, nudging, registry] = await Promise.all([
      startEmbeddedBroker({ port: mqtt.port }),
      startDigitalTwin({ issuer: issuer.trusted }),
      startNudgingTool({
        issuer: issuer.trusted,
        onEvent: (nudge) => {
          const entry = nudges.record(nudge);
          nudgeLog.info(`nudge ${entry.event_type} → ${entry.user_id}`, {
            seq: entry.seq,
            facts: entry.facts,
          });
        },
      }),
      startRecRegistry({ issuer: issuer.trusted }),
    ]);
    closers.push(broker.close, dt.close, nudging.close, registry.close);

    const env: Env = {
      ...opts.env,
      CELINE_ENV: "dev",
      PORT: String(server.port),
      // Zero configuration means the embedded database, even if the shell exports a DATABASE_URL.
      DATABASE_URL: "",
      CELINE_OIDC_BASE_URL: issuer.url,
      CELINE_OIDC_JWKS_URI: `${apiUrl}/dev/jwks`,
      CELINE_OIDC_CLIENT_ID: "svc-flexibility",
      CELINE_OIDC_CLIENT_SECRET: defaultOidcClients["svc-flexibility"]?.secret ?? "",
      DIGITAL_TWIN_API_URL: dt.url,
      NUDGING_API_URL: nudging.url,
      REC_REGISTRY_URL: registry.url,
      CELINE_MQTT_HOST: "127.0.0.1",
      CELINE_MQTT_PORT: String(broker.port),
      CELINE_MQTT_USE_TLS: "false",
      CELINE_MQTT_AUTH: "password",
      CELINE_MQTT_USERNAME: "",
      CELINE_MQTT_PASSWORD: "",
      OPA_URL: "",
      POLICY_DIR: opts.env.POLICY_DIR ?? join(REPO_ROOT, "policies"),
      LISTENER_PORT: String((await pickPort(opts.listenerPort)).port),
      LISTENER_SHARE_GROUP: "",
    };
    const apiEnv = parseApiEnv(env);
    const listenerEnv = parseListenerEnv(env);
    const timeZone = apiEnv.COMMUNITY_TIMEZONE;
    const clock = await createDevClock(opts.dataDir);

    const seededDay = { current: toLocalTime(clock.now(), timeZone).date };
    seedDigitalTwin(dt, { day: seededDay.current, timeZone });
    seedRegistry(registry);

    const metrics = createMetrics();
    const listenerLog = createLogger({
      level: listenerEnv.LOG_LEVEL,
      sink: opts.sink,
      fields: { service: "flexibility-listener" },
    });
    // One set of adapters (one token cache, one broker connection) for the API and the listener.
    const platform = createPlatform({ env: listenerEnv, log: listenerLog, metrics });
    closers.push(platform.close);

    const platformReady = performance.now();
    const api = await assemble(apiEnv, {
      sink: opts.sink,
      dataDir: opts.dataDir === null ? undefined : join(opts.dataDir, "pglite"),
      now: clock.now,
      platform,
      collectGarbage: () => Bun.gc(true),
    });
    closers.push(api.close);
    const { database } = api;
    const databaseReady = performance.now();

    const listener = await startListener({
      database,
      platform,
      config: coreConfigOf(listenerEnv),
      log: listenerLog,
      metrics,
      broker: { url: broker.url, reconnect: { minMs: 200, maxMs: 5_000 } },
      topicPrefix: listenerEnv.CELINE_MQTT_TOPIC_PREFIX,
      flows: listenerEnv.LISTENER_FLOWS,
      http: { port: listenerEnv.LISTENER_PORT, hostname: "127.0.0.1" },
      now: clock.now,
    });
    closers.push(listener.stop);
    // Ready means subscribed: a pipeline event published before that would reach nobody.
    for (const deadline = Date.now() + 10_000; !(await listener.readiness()).ready; ) {
      if (Date.now() > deadline) {
        log.warn("the listener is not ready yet; pipeline events may be missed until it is", {
          checks: (await listener.readiness()).checks,
        });
        break;
      }
      await Bun.sleep(50);
    }
    const timings = {
      platform_ms: Math.round(platformReady - begun),
      database_ms: Math.round(databaseReady - platformReady),
      listener_ms: Math.round(performance.now() - databaseReady),
    };

    // Targets read stored readings only (listing never asks the DT). In production the listener's
    // meter tick back-fills a member's days after they first list; the demo community has "been
    // running" for weeks, so its store holds them from the start, as those ticks would have left
    // it. A reseeded DT (a new simulated day) rewrites the past: the readings stored from the
    // previous seeding are forgotten first. Fills run one after another (a new day waits for the
    // fill of the start), and the fill of the start does not hold up /health.
    const jobCtx = () =>
      systemCtx({
        db: database.db,
        platform,
        config: coreConfigOf(listenerEnv),
        log: log.child({ component: "dev-readings" }),
        metrics,
        now: clock.now,
        job: "the dev stack",
      });
    async function fillReadings(day: string): Promise<void> {
      await database.db.delete(meterChunks);
      const summary = await backfillReadings({
        ctx: jobCtx(),
        input: {
          members: DEMO_MEMBERS.map((m) => ({
            userId: m.sub,
            communityId: DEMO_COMMUNITY.key,
            deviceId: m.device,
            windows: demoWindows(day, timeZone),
          })),
        },
      });
      log.info("dev stack: the demo members' readings are stored for their targets", { ...summary });
    }
    let filling: Promise<void> = Promise.resolve();
    const prefillReadings = (day: string): Promise<void> => {
      const next = filling.then(() => fillReadings(day));
      filling = next.catch((error: unknown) =>
        log.warn("dev stack: storing the demo members' readings failed", { error: messageOf(error) }),
      );
      return next;
    };
    void prefillReadings(seededDay.current).catch(() => {});
    closers.push(() => filling);

    const info: DevInfo = {
      api: apiUrl,
      docs: `${apiUrl}/docs`,
      issuer: issuer.url,
      token_endpoint: issuer.tokenEndpoint,
      jwks: `${apiUrl}/dev/jwks`,
      digital_twin: dt.url,
      nudging: nudging.url,
      registry: registry.url,
      broker: { url: broker.url, topic_prefix: listenerEnv.CELINE_MQTT_TOPIC_PREFIX },
      listener: { probes: listener.port === null ? null : `http://127.0.0.1:${listener.port}` },
      data_dir: opts.dataDir,
      time_zone: timeZone,
    };
    const control = createControlApp({
      info,
      issuer,
      clock,
      dt,
      nudging,
      nudges,
      seededDay,
      prefillReadings,
      async wakeRelay() {
        await database.db.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`);
      },
    });
    handler = (req, srv) => {
      const path = new URL(req.url).pathname;
      if (path === "/dev" || path.startsWith("/dev/")) {
        // Token minting and clock control answer this machine only, whatever DEV_HOST says.
        if (!isLoopback(srv.requestIP(req)?.address)) {
          return new Response(JSON.stringify({ detail: "dev endpoints answer loopback callers only" }), {
            status: 403,
            headers: { "content-type": "application/problem+json" },
          });
        }
        return control.fetch(req);
      }
      return api.app.fetch(req);
    };

    return {
      info,
      env,
      apiPort: server.port ?? apiPort,
      memberToken: async (sub) => (await issuer.mint({ kind: "member", sub })).token,
      issuerMovedFrom: issuer.movedFromPort,
      mqttPreferredTaken: mqtt.preferredTaken,
      timings,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

function isLoopback(address: string | undefined): boolean {
  return (
    address !== undefined &&
    (address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127."))
  );
}
