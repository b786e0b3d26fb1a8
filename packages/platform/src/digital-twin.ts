import {
  type DigitalTwin,
  type DtAuth,
  type Logger,
  type Membership,
  type RawRow,
  UpstreamError,
} from "@celine/core";
import type { HttpAnswer, RetryingClientOptions } from "./http.ts";
import { DEFAULT_RETRIES, isObject, send, sendAsService, statusError, targetOf } from "./http.ts";

// The Digital Twin (PLATFORM §3). Every call here is a read, so 5xx, timeouts and network errors
// are retried with backoff; 4xx never are. Rows come back as the DT sent them (naive UTC
// timestamps, numbers possibly as strings): the verbs normalise them.

/** `scope`: DT_CLIENT_SCOPE; unset → the client's default scopes. */
export type DigitalTwinClientOptions = RetryingClientOptions;

const UPSTREAM = "digital-twin";
const SERVICE: DtAuth = { kind: "service" };

export function createDigitalTwinClient(opts: DigitalTwinClientOptions): DigitalTwin {
  const target = targetOf(UPSTREAM, opts);
  const retries = opts.retries ?? DEFAULT_RETRIES;

  /** A participant's call carries their own token (a 401 is theirs to renew); ours, our service token. */
  function call(auth: DtAuth, method: "GET" | "POST", path: string, json?: unknown): Promise<HttpAnswer> {
    const req = { method, path, json, retries, backoffMs: opts.backoffMs };
    if (auth.kind === "service") return sendAsService(target, req, opts.tokens, opts.scope);
    return send(target, { ...req, headers: { authorization: `Bearer ${auth.token}` } });
  }

  /** POST a value fetcher; its answer is `{items, limit, offset, count}`. */
  async function values(auth: DtAuth, path: string, payload: Record<string, unknown>): Promise<RawRow[]> {
    const answer = await call(auth, "POST", path, { payload });
    if (answer.status !== 200) throw statusError(UPSTREAM, answer);
    return rowsOf(answer, opts.log);
  }

  return {
    async membership(auth, sub) {
      const answer = await call(auth, "GET", `/participants/${encodeURIComponent(sub)}/profile`);
      // The DT does not know this participant at all: then they are in no community either.
      if (answer.status === 404) return null;
      if (answer.status !== 200) throw statusError(UPSTREAM, answer);
      if (!isObject(answer.body)) throw malformed(answer, "is not an object");
      return membershipOf(answer);
    },

    async deviceOf(auth, sub) {
      const answer = await call(auth, "GET", `/participants/${encodeURIComponent(sub)}/assets`);
      if (answer.status === 404) return null;
      if (answer.status !== 200) throw statusError(UPSTREAM, answer);
      const items = isObject(answer.body) ? answer.body.items : undefined;
      if (!Array.isArray(items)) throw malformed(answer, "has no items array");
      for (const item of items) {
        if (!isObject(item)) continue;
        const sensor = item.sensor_id;
        const id =
          typeof sensor === "number" ? String(sensor) : typeof sensor === "string" ? sensor.trim() : "";
        if (id !== "") return id;
      }
      return null;
    },

    communityWindows(auth, community) {
      return values(
        auth,
        `/communities/it/${encodeURIComponent(community)}/values/rec_flexibility_windows`,
        {},
      );
    },

    deviceWindows(auth, sub, deviceId) {
      // One page (the fetcher's limit is 100 windows): far more than a participant ever has open.
      return values(auth, `/participants/${encodeURIComponent(sub)}/values/rec_flexibility_windows`, {
        device_id: deviceId,
        offset: 0,
      });
    },

    settlementHours(community, deviceId, start, end) {
      return values(SERVICE, `/communities/it/${encodeURIComponent(community)}/values/rec_settlement_1h`, {
        device_id: deviceId,
        window_start: toDtInstant(start),
        window_end: toDtInstant(end),
      });
    },

    forecast(community, start, end) {
      return values(SERVICE, `/communities/it/${encodeURIComponent(community)}/values/rec_forecast`, {
        start: toDtInstant(start),
        end: toDtInstant(end),
      });
    },
  };
}

/**
 * Instants as the DT writes them: naive UTC (`2026-07-02T11:00:00`), milliseconds only when
 * non-zero. The DT's own convention, so its comparisons never mix naive and aware times.
 */
export function toDtInstant(date: Date): string {
  const iso = date.toISOString();
  return date.getUTCMilliseconds() === 0 ? iso.slice(0, 19) : iso.slice(0, 23);
}

function membershipOf(answer: HttpAnswer): Membership | null {
  const body = answer.body as Record<string, unknown>;
  const membership = body.membership;
  // No `membership` key (or null) means "not in a community" (PLATFORM §3).
  if (membership === undefined || membership === null) return null;
  if (!isObject(membership) || !isObject(membership.community) || !isObject(membership.member)) {
    throw malformed(answer, "has a membership without community and member");
  }
  const community = membership.community;
  const member = membership.member;
  if (typeof community.key !== "string" || community.key === "") {
    throw malformed(answer, "has a membership without community.key");
  }
  return {
    community: { key: community.key, ...optionalString("name", community.name) },
    member: {
      key: typeof member.key === "string" ? member.key : String(member.key ?? ""),
      ...optionalString("name", member.name),
      ...optionalString("role", member.role),
      ...optionalString("area", member.area),
      ...optionalString("status", member.status),
    },
  };
}

function rowsOf(answer: HttpAnswer, log: Logger): RawRow[] {
  const items = isObject(answer.body) ? answer.body.items : undefined;
  if (!Array.isArray(items)) throw malformed(answer, "has no items array");
  const rows = items.filter(isObject);
  if (rows.length < items.length) {
    log.warn("digital twin rows that are not objects skipped", {
      call: answer.describe,
      skipped: items.length - rows.length,
    });
  }
  return rows;
}

function optionalString<K extends string>(key: K, value: unknown): Partial<Record<K, string>> {
  return typeof value === "string" ? ({ [key]: value } as Record<K, string>) : {};
}

function malformed(answer: HttpAnswer, what: string): UpstreamError {
  return new UpstreamError(UPSTREAM, `${answer.describe} answer ${what}`, answer.status);
}
