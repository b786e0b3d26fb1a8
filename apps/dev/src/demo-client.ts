// What the demo needs to drive a running dev stack: its /dev endpoints, the API as a member or a
// service would call it, and the broker as the data pipelines would publish to it.
import { messageOf } from "@celine/core";
import { prefixTopic } from "@celine/platform";
import mqtt, { type MqttClient } from "mqtt";
import type { DevInfo } from "./control.ts";
import type { LoggedNudge } from "./nudge-log.ts";

export class DemoError extends Error {}

/**
 * Asks `probe` every `everyMs` until it finds something; a DemoError "`what`: not seen within N s"
 * after `timeoutMs`, saying what was there instead when `seen` can tell.
 */
export async function pollUntil<T>(
  what: string,
  probe: () => T | null | Promise<T | null>,
  { timeoutMs, everyMs, seen }: { timeoutMs: number; everyMs: number; seen?: () => string },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== null) return found;
    if (Date.now() > deadline) {
      throw new DemoError(`${what}: not seen within ${timeoutMs / 1000} s${seen ? ` (${seen()})` : ""}`);
    }
    await Bun.sleep(everyMs);
  }
}

export type Answer = { status: number; json: unknown; text: string };

export type DevClient = {
  info: DevInfo;
  dev<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T>;
  token(kind: "member" | "service", sub: string, scope?: string): Promise<string>;
  api(method: string, path: string, token: string, body?: unknown): Promise<Answer>;
  nudgesAfter(seq: number): Promise<{ items: LoggedNudge[]; last_seq: number }>;
  /** Polls the nudging tool's inbox until `match` finds what it wants (or the deadline passes). */
  waitForNudges(
    what: string,
    after: number,
    match: (nudges: LoggedNudge[]) => LoggedNudge[] | null,
    timeoutMs?: number,
  ): Promise<LoggedNudge[]>;
};

export async function connectDev(url: string): Promise<DevClient> {
  const base = url.replace(/\/$/, "");
  async function call(method: string, path: string, headers: Record<string, string>, body?: unknown) {
    let res: Response;
    try {
      res = await fetch(`${base}${path}`, {
        method,
        headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (error) {
      throw new DemoError(
        `no dev stack answers at ${base} (${messageOf(error)}): start it with \`bun run dev\``,
      );
    }
    const text = await res.text();
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.status, json, text };
  }
  async function dev<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
    const answer = await call(method, path, {}, body);
    if (answer.status !== 200) throw new DemoError(`${method} ${path} → ${answer.status} ${answer.text}`);
    return answer.json as T;
  }
  const info = await dev<DevInfo>("GET", "/dev");
  const tokens = new Map<string, string>();

  return {
    info,
    dev,
    async token(kind, sub, scope) {
      const key = `${kind}|${sub}|${scope ?? ""}`;
      const cached = tokens.get(key);
      if (cached) return cached;
      const minted = await dev<{ token: string }>("POST", "/dev/token", { kind, sub, scope });
      tokens.set(key, minted.token);
      return minted.token;
    },
    api: (method, path, token, body) => call(method, path, { authorization: `Bearer ${token}` }, body),
    nudgesAfter: (seq) => dev("GET", `/dev/nudges?after=${seq}`),
    waitForNudges(what, after, match, timeoutMs = 30_000) {
      let items: LoggedNudge[] = [];
      const seen = () =>
        `the nudging tool got ${items.map((n) => `${n.event_type}→${n.user_id}`).join(", ") || "nothing"}`;
      return pollUntil(
        what,
        async () => {
          ({ items } = await dev<{ items: LoggedNudge[] }>("GET", `/dev/nudges?after=${after}`));
          return match(items);
        },
        { timeoutMs, everyMs: 200, seen },
      );
    },
  };
}

export type Pipelines = {
  /** Publishes a pipeline run event as the platform's orchestrator does (QoS 1). */
  publishRun(flow: string, status: "started" | "completed", at: Date, runId?: string): Promise<string>;
  /** Messages seen on `celine/flexibility/committed/+` since connecting. */
  committed(): Array<{ topic: string; payload: Record<string, unknown> }>;
  close(): Promise<void>;
};

export async function connectPipelines(info: DevInfo): Promise<Pipelines> {
  const topic = (t: string) => prefixTopic(info.broker.topic_prefix, t);
  const client: MqttClient = await mqtt.connectAsync(info.broker.url, {
    clientId: `celine-demo-${crypto.randomUUID().slice(0, 8)}`,
    reconnectPeriod: 0,
    connectTimeout: 5_000,
  });
  const seen: Array<{ topic: string; payload: Record<string, unknown> }> = [];
  client.on("message", (t, payload) => {
    try {
      seen.push({ topic: t, payload: JSON.parse(payload.toString("utf8")) as Record<string, unknown> });
    } catch {
      // Not ours to judge: the demo only reads what the API publishes.
    }
  });
  await client.subscribeAsync(topic("celine/flexibility/committed/+"), { qos: 1 });
  return {
    async publishRun(flow, status, at, runId = `demo-${flow}-${crypto.randomUUID().slice(0, 8)}`) {
      await client.publishAsync(
        topic(`celine/pipelines/runs/${flow}`),
        JSON.stringify({
          flow,
          namespace: "celine",
          status,
          run_id: runId,
          timestamp: at.toISOString(),
          duration_ms: status === "completed" ? 4_210 : null,
          error: null,
        }),
        { qos: 1 },
      );
      return runId;
    },
    committed: () => [...seen],
    close: () => client.endAsync(),
  };
}
