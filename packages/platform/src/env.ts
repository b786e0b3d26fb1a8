import { readFileSync } from "node:fs";
import {
  type CoreConfig,
  createLogger,
  forbiddenAddress,
  type MethodOverrides,
  messageOf,
  parseSettlementMethod,
  type SettlementMethod,
} from "@celine/core";
import { z } from "zod";

// Configuration shared by the API, the listener, the settle CLI and the dev stack (PLATFORM §7).
// Parsed once per app at start-up from an environment record handed in by the entry point; nothing
// else reads the environment. Core takes the result as arguments (CoreConfig, SettlementMethod).

export type Env = Record<string, string | undefined>;

/** The seed README spelled the groups `OIDC__*` / `MQTT__*`; map them onto the CELINE_ names. */
export function withAliases(env: Env): Env {
  const out: Env = { ...env };
  for (const [key, value] of Object.entries(env)) {
    const alias = /^(OIDC|MQTT)__(.+)$/.exec(key);
    if (!alias) continue;
    const canonical = `CELINE_${alias[1]}_${alias[2]}`;
    if (out[canonical] === undefined) out[canonical] = value;
  }
  return out;
}

const flag = z
  .enum(["true", "false", "1", "0", "yes", "no", ""])
  .default("false")
  .transform((v) => v === "true" || v === "1" || v === "yes");
const int = (fallback: number) => z.coerce.number().int().default(fallback);
/** A setting that may be left unset or set empty: both read as undefined. */
export function optionalSetting<S extends z.ZodType>(schema: S) {
  return schema.optional().or(z.literal("").transform(() => undefined));
}
const optionalUrl = optionalSetting(z.url());

/** The shipped configuration/flexibility.yaml (FLEXIBILITY_CONFIG points elsewhere). */
export const DEFAULT_FLEXIBILITY_CONFIG = new URL("../../../config/flexibility.yaml", import.meta.url)
  .pathname;

const movedTo = (key: string) =>
  z
    .string()
    .optional()
    .refine(
      (v) => v === undefined || v === "",
      `no longer read: set ${key} in the FLEXIBILITY_CONFIG file instead`,
    )
    .transform(() => undefined);

const LOCAL_ISSUER = "http://localhost:8080/realms/celine";

export const PlatformEnv = z.object({
  CELINE_ENV: z.string().default("production"),
  DATABASE_URL: optionalSetting(z.string().regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")),
  DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/i, "must be a plain identifier")
    .default("flexibility"),
  CELINE_OIDC_BASE_URL: z.url().default(LOCAL_ISSUER),
  CELINE_OIDC_JWKS_URI: optionalUrl,
  CELINE_OIDC_AUDIENCE: z.string().min(1).default("svc-flexibility"),
  CELINE_OIDC_CLIENT_ID: z.string().default("svc-flexibility"),
  CELINE_OIDC_CLIENT_SECRET: z.string().default(""),
  /**
   * Outside dev the issuer and the JWKS must be https; `true` lets them be plain http (an in-cluster
   * sidecar on a private network), logged at every start.
   */
  CELINE_OIDC_ALLOW_HTTP: flag,
  DIGITAL_TWIN_API_URL: z.url().default("http://localhost:8002"),
  NUDGING_API_URL: z.url().default("http://localhost:8016"),
  REC_REGISTRY_URL: z.url().default("http://localhost:8004"),
  DT_CLIENT_SCOPE: z.string().optional(),
  REC_REGISTRY_SCOPE: z.string().optional(),
  NUDGING_SCOPE: z.string().default("nudging.ingest"),
  CELINE_MQTT_HOST: z.string().default("localhost"),
  CELINE_MQTT_PORT: int(1883),
  CELINE_MQTT_USERNAME: z.string().optional(),
  CELINE_MQTT_PASSWORD: z.string().optional(),
  CELINE_MQTT_USE_TLS: flag,
  CELINE_MQTT_AUTH: z.enum(["password", "jwt"]).default("password"),
  CELINE_MQTT_TOPIC_PREFIX: z.string().default(""),
  COMMUNITY_TIMEZONE: z
    .string()
    .default("Europe/Rome")
    .refine((tz) => isTimeZone(tz), "not an IANA time zone"),
  REMINDER_LEAD_MINUTES: int(30).pipe(
    z
      .number()
      .min(0)
      .max(24 * 60),
  ),
  /** Overrides `flexibility_bonus.bonus_rate_points_per_kwh` of the YAML when set. */
  POINTS_PER_KWH: z.coerce.number().min(0).max(1_000_000).optional(),
  /** The settlement method's YAML, in the platform pipeline's format. */
  FLEXIBILITY_CONFIG: z.string().min(1).default(DEFAULT_FLEXIBILITY_CONFIG),
  SETTLEMENT_DEADLINE_DAYS: int(7).pipe(z.number().min(1)),
  SETTLEMENT_CONCURRENCY: int(64).pipe(z.number().min(1).max(1000)),
  // Moved to the YAML: refuse them rather than ignore what an operator meant.
  STREAK_BONUS_PCT: movedTo("flexibility_bonus.streak"),
  STREAK_BONUS_CAP_PCT: movedTo("flexibility_bonus.streak.max_multiplier"),
  SEASON_LENGTH_MONTHS: movedTo("season.months_per_season"),
  SEASON_ANCHOR: movedTo("season.anchor_date"),
  OPA_URL: optionalUrl,
  /**
   * Where members' devices reach the API, as the links it hands out start (a calendar feed's URL):
   * `https://flex.example.org`, or with the path prefix a proxy mounts it under. Unset → the API's
   * own address, `http://localhost:<PORT>` (development).
   */
  CELINE_PUBLIC_URL: optionalSetting(z.url({ protocol: /^https?$/, error: "must be an http(s) URL" })),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
});
export type PlatformEnv = z.output<typeof PlatformEnv>;

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** The verbs' configuration out of the parsed environment and the settlement method (the API and the listener share it). */
export function coreConfigOf(env: PlatformEnv & { method: SettlementMethod; PORT?: number }): CoreConfig {
  return {
    communityTimezone: env.COMMUNITY_TIMEZONE,
    reminderLeadMinutes: env.REMINDER_LEAD_MINUTES,
    settlementDeadlineDays: env.SETTLEMENT_DEADLINE_DAYS,
    settlementConcurrency: env.SETTLEMENT_CONCURRENCY,
    method: env.method,
    publicUrl: publicUrlOf(env),
    allowPrivateWebhookTargets: isDev(env),
  };
}

/**
 * CELINE_PUBLIC_URL without its trailing slash (query and fragment dropped), else the API's own
 * address on this machine (`PORT`, 8017 when the app has none: the listener hands out no links).
 */
function publicUrlOf(env: { CELINE_PUBLIC_URL?: string | undefined; PORT?: number }): string {
  if (!env.CELINE_PUBLIC_URL) return `http://localhost:${env.PORT ?? 8017}`;
  const url = new URL(env.CELINE_PUBLIC_URL);
  return `${url.origin}${url.pathname.replace(/\/+$/, "")}`;
}

export function isDev(env: { CELINE_ENV: string }): boolean {
  return env.CELINE_ENV === "dev";
}

export function jwksUriOf(env: PlatformEnv): string {
  return (
    env.CELINE_OIDC_JWKS_URI ?? `${env.CELINE_OIDC_BASE_URL.replace(/\/$/, "")}/protocol/openid-connect/certs`
  );
}

/**
 * Database passwords refused outside dev (compared without case): the development defaults and
 * the most common passwords of leaked lists — the first ones anybody tries.
 */
const WELL_KNOWN_PASSWORDS = new Set([
  "postgres",
  "postgres123",
  "postgrespassword",
  "password",
  "password1",
  "password123",
  "passw0rd",
  "changeme",
  "secret",
  "dev",
  "admin",
  "admin123",
  "root",
  "test",
  "flexibility",
  "celine",
  "example",
  "123456",
  "12345678",
  "123456789",
  "qwerty",
  "letmein",
  "welcome",
]);
/** The shortest client secret accepted outside dev (Keycloak generates 32 characters). */
const MIN_CLIENT_SECRET_LENGTH = 16;

/**
 * Everything that makes a deployment insecure, all at once (empty in dev, where it is relaxed).
 * Outside `CELINE_ENV=dev` the entry points refuse to start while this is non-empty.
 */
export function insecureSettings(env: PlatformEnv): string[] {
  if (isDev(env)) return [];
  const problems: string[] = [];
  if (!env.DATABASE_URL) {
    problems.push("DATABASE_URL is unset (the embedded database is for development only)");
  } else {
    const credentials = credentialsOf(env.DATABASE_URL);
    if (!credentials?.password) problems.push("DATABASE_URL has no password");
    else if (WELL_KNOWN_PASSWORDS.has(credentials.password.toLowerCase())) {
      problems.push("DATABASE_URL carries a development password");
    } else if (credentials.password === credentials.user) {
      problems.push("DATABASE_URL's password equals its user name");
    }
  }
  const secret = env.CELINE_OIDC_CLIENT_SECRET;
  if (!secret) problems.push("CELINE_OIDC_CLIENT_SECRET is empty");
  else if (secret === env.CELINE_OIDC_CLIENT_ID)
    problems.push("CELINE_OIDC_CLIENT_SECRET equals the client id");
  else if (secret.length < MIN_CLIENT_SECRET_LENGTH) {
    problems.push(`CELINE_OIDC_CLIENT_SECRET is shorter than ${MIN_CLIENT_SECRET_LENGTH} characters`);
  }
  for (const [name, url] of [
    ["CELINE_OIDC_BASE_URL", env.CELINE_OIDC_BASE_URL],
    ["CELINE_OIDC_JWKS_URI", jwksUriOf(env)],
  ] as const) {
    if (isLocal(url)) problems.push(`${name} is left at a local default (${url})`);
    else if (!isHttps(url) && !env.CELINE_OIDC_ALLOW_HTTP) {
      problems.push(
        `${name} must be https (${url}); CELINE_OIDC_ALLOW_HTTP=true allows an in-cluster http sidecar`,
      );
    }
  }
  return problems;
}

/**
 * What an operator allowed outside dev that weakens the posture, one line each, for the start-up
 * log (empty in dev): today only CELINE_OIDC_ALLOW_HTTP with an http issuer or JWKS.
 */
export function insecureAllowances(env: PlatformEnv): string[] {
  if (isDev(env) || !env.CELINE_OIDC_ALLOW_HTTP) return [];
  const plain = [env.CELINE_OIDC_BASE_URL, jwksUriOf(env)].filter((url) => !isHttps(url));
  if (plain.length === 0) return [];
  return [
    `CELINE_OIDC_ALLOW_HTTP=true: tokens are verified against keys fetched over plain http (${plain.join(", ")})`,
  ];
}

function credentialsOf(url: string): { user: string; password: string } | null {
  try {
    const parsed = new URL(url);
    return { user: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) };
  } catch {
    return null;
  }
}

function isHttps(url: string): boolean {
  try {
    return new URL(url).protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * Whether a URL names this machine: `localhost` and `*.localhost` (with or without the root's dot),
 * and every loopback or unspecified address however written — 127.0.0.0/8, 0.0.0.0/8, [::1], [::],
 * IPv4-mapped and -compatible forms ([::ffff:127.0.0.1]); the URL parser already reads 127.1,
 * 0x7f000001 and 2130706433 as 127.0.0.1. A URL that does not parse counts as local.
 */
function isLocal(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname
      .toLowerCase()
      .replace(/\.$/, "")
      .replace(/^\[|\]$/g, "");
  } catch {
    return true;
  }
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const why = forbiddenAddress(host);
  return why === "loopback" || why === "unspecified";
}

/** What an entry point says when it refuses to `action` outside dev: every problem, one a line. */
export function refusalOf(action: "start" | "run" | "serve", problems: string[]): string {
  return `refusing to ${action} outside CELINE_ENV=dev:\n  - ${problems.join("\n  - ")}`;
}

/**
 * An entry point's configuration: `parse()`'s, or every problem on stderr and exit 1 — also when
 * settings that are safe only in development are used outside it (`insecureSettings`).
 */
export function configOrExit<E extends PlatformEnv>(parse: () => E, action: "start" | "run"): E {
  try {
    const env = parse();
    const problems = insecureSettings(env);
    if (problems.length === 0) {
      for (const allowance of insecureAllowances(env)) createLogger().warn(allowance);
      return env;
    }
    console.error(refusalOf(action, problems));
  } catch (error) {
    console.error(messageOf(error));
  }
  process.exit(1);
}

/** An app's schema over the environment (aliases applied); an Error naming every problem at once. */
export function parseEnv<S extends z.ZodType>(schema: S, env: Env): z.output<S> {
  const result = schema.safeParse(withAliases(env));
  if (!result.success) {
    throw new Error(`invalid configuration:\n  - ${describeEnvIssues(result.error).join("\n  - ")}`);
  }
  return result.data;
}

/** Format zod issues of an environment parse as `NAME: message` lines. */
function describeEnvIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

/** The settlement method from its YAML file; an Error naming every problem (by key path) when it is not valid. */
export function loadSettlementMethod(path: string, overrides: MethodOverrides = {}): SettlementMethod {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new Error(`FLEXIBILITY_CONFIG: cannot read ${path}: ${messageOf(error)}`);
  }
  return settlementMethodOf(text, `FLEXIBILITY_CONFIG (${path})`, overrides);
}

/** The settlement method from its YAML text; an Error naming `source` and every problem when it is not valid. */
export function settlementMethodOf(
  text: string,
  source: string,
  overrides: MethodOverrides = {},
): SettlementMethod {
  const parsed = parseSettlementMethod(text, overrides);
  if (!parsed.ok) throw new Error(`invalid ${source}:\n  - ${parsed.problems.join("\n  - ")}`);
  return parsed.method;
}

/** A parsed environment with the settlement method its FLEXIBILITY_CONFIG names (POINTS_PER_KWH overriding the rate). */
export function withSettlementMethod<
  E extends { FLEXIBILITY_CONFIG: string; POINTS_PER_KWH?: number | undefined },
>(env: E): E & { method: SettlementMethod } {
  return {
    ...env,
    method: loadSettlementMethod(env.FLEXIBILITY_CONFIG, { pointsPerKwh: env.POINTS_PER_KWH }),
  };
}
