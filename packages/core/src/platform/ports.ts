// Ports to the platform services we call (PLATFORM §3–§6), and to integrators' webhook receivers. Core verbs depend on these types only;
// adapters (HTTP clients, the MQTT publisher) implement them outside the verbs, and tests wire
// them to the contract fakes. Every adapter throws UpstreamError naming the service on failure.

/** Whose credentials a Digital Twin call carries. */
export type DtAuth =
  /** Forward the calling participant's own JWT (the DT resolves the participant from it). */
  | { kind: "user"; token: string }
  /** Our client-credentials service token (background jobs). */
  | { kind: "service" };

/** A DT value row as it arrived: naive UTC timestamps and numbers possibly as strings. */
export type RawRow = Record<string, unknown>;

export type Membership = {
  community: { key: string; name?: string };
  member: { key: string; name?: string; role?: string; area?: string; status?: string };
};

export type DigitalTwin = {
  /** The participant's membership; null when they are not in a community. */
  membership(auth: DtAuth, sub: string): Promise<Membership | null>;
  /** The participant's metering device: the first asset with a non-empty sensor_id; null if none. */
  deviceOf(auth: DtAuth, sub: string): Promise<string | null>;
  communityWindows(auth: DtAuth, community: string): Promise<RawRow[]>;
  deviceWindows(auth: DtAuth, sub: string, deviceId: string): Promise<RawRow[]>;
  /** Hourly metered consumption rows with ts in [start, end) (at most 24 per call). */
  settlementHours(community: string, deviceId: string, start: Date, end: Date): Promise<RawRow[]>;
  /** Forecast rows (at most 48 per call). */
  forecast(community: string, start: Date, end: Date): Promise<RawRow[]>;
};

export type NudgeEvent = {
  event_type: string;
  user_id: string;
  /** "" when unknown: the nudging tool rejects null. */
  community_id: string;
  timestamp?: string;
  payload?: Record<string, unknown>;
  facts: Record<string, string> & { facts_version: "1.0"; scenario: string };
};

/**
 * The outcome of an ingest. 200/202/204/409 all mean delivered-or-deduplicated; 400/422 are our
 * bug (`rejected`, never retried); 5xx, timeouts and network errors throw UpstreamError (retry).
 */
export type NudgeOutcome =
  | { kind: "delivered"; status: number }
  | { kind: "rejected"; status: number; detail: string };

export type Nudging = {
  ingest(event: NudgeEvent): Promise<NudgeOutcome>;
};

export type RegistryCommunity = { key: string; name?: string };
export type RegistryMember = {
  id: string;
  key: string;
  user_id: string | null;
  name?: string;
  role?: string;
};

export type Registry = {
  /** Every community, all pages. */
  communities(): AsyncIterable<RegistryCommunity>;
  /** Every member of a community, all pages (members without an account included; callers skip them). */
  members(community: string): AsyncIterable<RegistryMember>;
};

/** Publishes to the broker; rejects when the message could not be handed over (QoS 1 PUBACK). */
export type Publisher = {
  publish(topic: string, payload: unknown): Promise<void>;
};

/** One webhook delivery as it goes on the wire: the body is sent as it is (its bytes are signed). */
export type WebhookRequest = {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The whole exchange may take this long (ms). */
  timeoutMs: number;
  /**
   * Connect to one of these addresses (the ones the target's host was checked to resolve to) and
   * never resolve the name again; TLS is still verified against the URL's host. Absent: resolve as usual.
   */
  addresses?: string[];
};

/**
 * Talks to integrators' webhook receivers. Which targets are allowed is core's rule (it resolves a
 * host through `resolve` before each delivery, and hands the addresses it allowed to `post`); the
 * adapter only resolves and sends.
 */
export type WebhookSender = {
  /** Every address the host name resolves to (A and AAAA); UpstreamError when it does not resolve. */
  resolve(hostname: string): Promise<string[]>;
  /**
   * One POST; the receiver's status, whatever it is (redirects are answered, never followed).
   * UpstreamError on a network failure or timeout.
   */
  post(request: WebhookRequest): Promise<{ status: number }>;
};

export type Platform = {
  dt: DigitalTwin;
  nudging: Nudging;
  registry: Registry;
  publisher: Publisher;
  webhooks: WebhookSender;
};
