import type { AddressInfo, Server } from "node:net";
import { createServer } from "node:net";
import type { AedesPublishPacket, AuthenticateError, Client } from "aedes";
import { Aedes } from "aedes";

export type EmbeddedBrokerOptions = {
  /** Listen on this port (e.g. the port of a broker just closed, to simulate a restart); 0 = any. */
  port?: number;
  /** Accept or refuse a login (username, password as text). Everyone is admitted when absent. */
  authenticate?: (username: string | undefined, password: string | undefined) => boolean | Promise<boolean>;
};

export type EmbeddedBroker = {
  /** mqtt://127.0.0.1:PORT */
  url: string;
  port: number;
  /** The aedes instance, for tests that watch publishes or clients. */
  aedes: Aedes;
  close(): Promise<void>;
};

export type TestBroker = { url: string; close(): Promise<void> };

const SHARE_PREFIX = "$share/";
const BAD_USERNAME_OR_PASSWORD = 4;

/**
 * An aedes broker on node:net, on 127.0.0.1. aedes speaks MQTT 3.1.1 and has no shared
 * subscriptions, so this helper adds them: `$share/<group>/<filter>` is stored as `<filter>` and
 * each message is forwarded to one member of each group (round robin), as Mosquitto does. Shared
 * subscriptions assume clean sessions; unsubscribing from a `$share/…` filter is not supported
 * (disconnect instead).
 */
export async function startEmbeddedBroker(opts: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const shares = createShareRouter();
  const aedes = await Aedes.createBroker({
    authenticate(_client, username, password, done) {
      const check = opts.authenticate ?? (() => true);
      Promise.resolve(check(username, password?.toString("utf8"))).then(
        (ok) => {
          if (ok) return done(null, true);
          const error = Object.assign(new Error("bad username or password"), {
            returnCode: BAD_USERNAME_OR_PASSWORD,
          }) as AuthenticateError;
          done(error, false);
        },
        () => done(null, false),
      );
    },
    authorizeSubscribe(client, subscription, done) {
      done(null, { ...subscription, topic: shares.rewrite(client.id, subscription.topic) });
    },
    authorizeForward: (client, packet) => (shares.admits(client, packet) ? packet : null),
  });
  aedes.on("clientDisconnect", (client) => shares.forget(client.id));

  const server = createServer(aedes.handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    aedes,
    close: () => closeBroker(aedes, server),
  };
}

/**
 * The broker the tests should use: `TEST_MQTT_URL` when set (CI runs a real Mosquitto), otherwise
 * an embedded broker closed by `close()`. A broker-restart test needs `startEmbeddedBroker` instead.
 */
export async function testBrokerUrl(): Promise<TestBroker> {
  const external = process.env.TEST_MQTT_URL;
  if (external) return { url: external, close: async () => {} };
  const broker = await startEmbeddedBroker();
  return { url: broker.url, close: broker.close };
}

async function closeBroker(aedes: Aedes, server: Server): Promise<void> {
  // aedes.close ends every client connection; only then can the listening socket finish closing.
  await new Promise<void>((resolve) => aedes.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

type ShareRouter = {
  rewrite(clientId: string, topic: string): string;
  admits(client: Client, packet: AedesPublishPacket): boolean;
  forget(clientId: string): void;
};

function createShareRouter(): ShareRouter {
  // clientId → filter → groups the client joined for that filter
  const members = new Map<string, Map<string, Set<string>>>();
  const turns = new Map<string, number>();
  // `${brokerId}:${counter}|group|filter` → the member chosen for that message
  const chosen = new Map<string, string>();

  function choose(messageKey: string, group: string, filter: string): string | undefined {
    const key = `${messageKey}|${group}|${filter}`;
    const known = chosen.get(key);
    if (known !== undefined) return known;
    const candidates = [...members.entries()]
      .filter(([, filters]) => filters.get(filter)?.has(group))
      .map(([clientId]) => clientId)
      .sort();
    if (candidates.length === 0) return undefined;
    const turn = turns.get(`${group}|${filter}`) ?? 0;
    turns.set(`${group}|${filter}`, turn + 1);
    const pick = candidates[turn % candidates.length];
    if (pick === undefined) return undefined;
    // Bounded memory: a decision is only needed while the message fans out.
    if (chosen.size > 10_000) chosen.clear();
    chosen.set(key, pick);
    return pick;
  }

  return {
    rewrite(clientId, topic) {
      if (!topic.startsWith(SHARE_PREFIX)) return topic;
      const rest = topic.slice(SHARE_PREFIX.length);
      const slash = rest.indexOf("/");
      if (slash <= 0) return topic;
      const group = rest.slice(0, slash);
      const filter = rest.slice(slash + 1);
      const filters = members.get(clientId) ?? new Map<string, Set<string>>();
      filters.set(filter, (filters.get(filter) ?? new Set<string>()).add(group));
      members.set(clientId, filters);
      return filter;
    },
    admits(client, packet) {
      const filters = members.get(client.id);
      if (!filters) return true;
      const messageKey = `${packet.brokerId}:${packet.brokerCounter}`;
      let shared = false;
      for (const [filter, groups] of filters) {
        if (!matchesFilter(filter, packet.topic)) continue;
        for (const group of groups) {
          shared = true;
          if (choose(messageKey, group, filter) === client.id) return true;
        }
      }
      return !shared;
    },
    forget(clientId) {
      members.delete(clientId);
    },
  };
}

/** MQTT topic-filter matching (`+` one level, `#` the rest). */
export function matchesFilter(filter: string, topic: string): boolean {
  const f = filter.split("/");
  const t = topic.split("/");
  for (let i = 0; i < f.length; i += 1) {
    const level = f[i];
    if (level === "#") return true;
    if (i >= t.length) return false;
    if (level !== "+" && level !== t[i]) return false;
  }
  return f.length === t.length;
}
