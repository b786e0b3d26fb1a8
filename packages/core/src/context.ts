import type { Database, Db } from "./db/database.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";
import type { Platform } from "./platform/ports.ts";
import type { MemberErasure } from "./schemas/members.ts";
import { DEFAULT_METHOD, type SettlementMethod } from "./settlement/method.ts";

/**
 * Who is asking. Participants and services come from a verified token; `system` is our own jobs;
 * `anonymous` presented no token at all (a calendar app fetching a feed whose secret URL is its only
 * credential): the policy is asked with no subject, and allows such a caller nothing but that feed.
 * Its id is empty, which owns nothing: the policy never takes "" for an owner or a subject.
 */
export type Actor =
  | { kind: "participant"; id: string; clientId: string | null; scopes: string[]; roles: string[] }
  | { kind: "service"; id: string; clientId: string | null; scopes: string[]; roles: string[] }
  | { kind: "system"; id: "system" }
  | { kind: "anonymous"; id: ""; clientId: null };

export type PolicyInput = {
  subject: { id: string; is_service: boolean; scopes: string[]; roles: string[] } | null;
  action: { name: string };
  resource: { type: string; attributes: { owner_id?: string } };
};
export type Decision = { allow: boolean; reason: string };
/** The policy decision point; implementations must never throw and must deny on any error. */
export type Authorizer = (input: PolicyInput) => Promise<Decision>;

/**
 * What the audit log keeps: every refusal, and every erasure of a member's data (who erased whom,
 * and how many rows of each kind; never the rows themselves).
 */
export type AuditRecord =
  | {
      event: "denied";
      action: string;
      sub: string | null;
      client_id: string | null;
      reason: string;
      request_id: string | null;
    }
  | {
      event: "erased";
      action: "erase";
      sub: string;
      client_id: string | null;
      member: string;
      erased: MemberErasure;
      request_id: string | null;
    };

export type CoreConfig = {
  /** IANA zone that labels, baselines, weeks, seasons and nudge facts are expressed in. */
  communityTimezone: string;
  reminderLeadMinutes: number;
  /** A commitment whose meter data is still missing this many days after its window closes as 0 points. */
  settlementDeadlineDays: number;
  /** Digital Twin calls a settlement run keeps in flight at most. */
  settlementConcurrency: number;
  /** The settlement method: baseline, points, streak, cap and seasons (FLEXIBILITY_CONFIG). */
  method: SettlementMethod;
  /**
   * Where members' devices reach this API (CELINE_PUBLIC_URL; a path prefix allowed, no trailing
   * slash): the links we hand out (a calendar feed's URL) start with it.
   */
  publicUrl: string;
  /**
   * CELINE_ENV=dev: webhook targets may be http and on any address (receivers on this machine).
   * Otherwise only https on public addresses (no loopback, private, link-local or metadata address).
   */
  allowPrivateWebhookTargets: boolean;
};

export const DEFAULT_CORE_CONFIG: CoreConfig = {
  communityTimezone: "Europe/Rome",
  reminderLeadMinutes: 30,
  settlementDeadlineDays: 7,
  settlementConcurrency: 64,
  method: DEFAULT_METHOD,
  publicUrl: "http://localhost:8017",
  allowPrivateWebhookTargets: false,
};

export type Ctx = {
  db: Db;
  actor: Actor;
  authorizer: Authorizer;
  log: Logger;
  /** Receives one record per refusal and per erasure. */
  audit: (record: AuditRecord) => void;
  config: CoreConfig;
  requestId: string | null;
  now: () => Date;
  /** The caller's raw JWT, forwarded to the Digital Twin on participant calls; null for jobs. */
  credentials: string | null;
  platform: Platform;
  metrics: Metrics;
};

/** Run `work` in one transaction; the callback's ctx uses the transaction handle. */
export function withTransaction<T>(ctx: Ctx, work: (tx: Ctx) => Promise<T>): Promise<T> {
  return ctx.db.transaction((db) => work({ ...ctx, db }));
}

export type { Database, Db };
