import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, type LogRecord } from "@celine/core";
import {
  configOrExit,
  coreConfigOf,
  type Env,
  insecureAllowances,
  insecureSettings,
  jwksUriOf,
  withAliases,
} from "@celine/platform/env";
import { startProblems } from "../src/compose.ts";
import { parseApiEnv } from "../src/env.ts";

// PLATFORM §7 configuration: parsed once with zod, aliases accepted, and outside CELINE_ENV=dev a
// refusal to start that names every insecure setting at once.

const ROOT = join(import.meta.dir, "../../..");

/** A configuration with nothing insecure in it (hardened posture). */
const SECURE: Env = {
  DATABASE_URL: "postgres://flex:Xq7-long-random@db.internal:5432/flex",
  CELINE_OIDC_BASE_URL: "https://auth.celine.example/realms/celine",
  CELINE_OIDC_CLIENT_ID: "svc-flexibility",
  CELINE_OIDC_CLIENT_SECRET: "s3cr3t-from-the-vault",
};

const problemsOf = (env: Env) => insecureSettings(parseApiEnv(env));

describe("happy", () => {
  test("defaults: port 8017, schema flexibility, audience svc-flexibility, the proxy header, docs off", () => {
    const env = parseApiEnv({});
    expect(env).toMatchObject({
      PORT: 8017,
      DB_SCHEMA: "flexibility",
      CELINE_ENV: "production",
      CELINE_OIDC_AUDIENCE: "svc-flexibility",
      CELINE_OIDC_CLIENT_ID: "svc-flexibility",
      JWT_HEADER_NAME: "x-auth-request-access-token",
      CELINE_PUBLIC_DOCS: false,
      COMMUNITY_TIMEZONE: "Europe/Rome",
      REMINDER_LEAD_MINUTES: 30,
      FLEXIBILITY_CONFIG: join(ROOT, "config/flexibility.yaml"),
    });
    expect(env.DATABASE_URL).toBeUndefined();
  });

  test("a hardened configuration with real values has no insecure setting", () => {
    expect(problemsOf(SECURE)).toEqual([]);
  });

  test("the JWKS URI defaults to the issuer's Keycloak certs endpoint", () => {
    expect(jwksUriOf(parseApiEnv(SECURE))).toBe(
      "https://auth.celine.example/realms/celine/protocol/openid-connect/certs",
    );
  });

  test.each([
    ["OIDC__BASE_URL", "CELINE_OIDC_BASE_URL", "https://auth.example.org/realms/x"],
    ["OIDC__JWKS_URI", "CELINE_OIDC_JWKS_URI", "https://auth.example.org/certs"],
    ["OIDC__AUDIENCE", "CELINE_OIDC_AUDIENCE", "svc-other"],
    ["OIDC__CLIENT_ID", "CELINE_OIDC_CLIENT_ID", "svc-x"],
    ["OIDC__CLIENT_SECRET", "CELINE_OIDC_CLIENT_SECRET", "from-alias"],
    ["MQTT__HOST", "CELINE_MQTT_HOST", "broker.internal"],
    ["MQTT__USERNAME", "CELINE_MQTT_USERNAME", "svc"],
    ["MQTT__TOPIC_PREFIX", "CELINE_MQTT_TOPIC_PREFIX", "staging/"],
  ])("the seed spelling %s is accepted for %s", (alias, canonical, value) => {
    const env = parseApiEnv({ [alias]: value }) as unknown as Record<string, unknown>;
    expect(env[canonical]).toBe(value);
  });

  test("MQTT__PORT is coerced like its canonical name", () => {
    expect(parseApiEnv({ MQTT__PORT: "8883" }).CELINE_MQTT_PORT).toBe(8883);
  });

  test("when both spellings are set, the CELINE_ name wins", () => {
    const env = parseApiEnv({ OIDC__AUDIENCE: "from-alias", CELINE_OIDC_AUDIENCE: "canonical" });
    expect(env.CELINE_OIDC_AUDIENCE).toBe("canonical");
  });

  test("aliases also satisfy the hardened checks (a real issuer given as OIDC__BASE_URL)", () => {
    const { CELINE_OIDC_BASE_URL: _issuer, CELINE_OIDC_CLIENT_SECRET: _secret, ...rest } = SECURE;
    expect(
      problemsOf({
        ...rest,
        OIDC__BASE_URL: "https://auth.example.org/realms/celine",
        OIDC__CLIENT_SECRET: "from-the-vault-by-alias",
      }),
    ).toEqual([]);
  });

  test("withAliases leaves unrelated variables alone", () => {
    expect(withAliases({ PATH: "/bin", OIDC_X: "1" })).toEqual({ PATH: "/bin", OIDC_X: "1" });
  });

  test.each([
    ["true", true],
    ["1", true],
    ["false", false],
    ["0", false],
    ["", false],
  ])("CELINE_PUBLIC_DOCS=%p → %p", (value, docs) => {
    expect(parseApiEnv({ CELINE_PUBLIC_DOCS: value }).CELINE_PUBLIC_DOCS).toBe(docs);
  });

  test("JWT_HEADER_NAME is matched case-insensitively (stored lower-case)", () => {
    expect(parseApiEnv({ JWT_HEADER_NAME: "X-Forwarded-Access-Token" }).JWT_HEADER_NAME).toBe(
      "x-forwarded-access-token",
    );
  });
});

describe("errors", () => {
  test("outside dev, every insecure setting is named at once", () => {
    const problems = problemsOf({});
    expect(problems).toHaveLength(4);
    expect(problems.join("\n")).toMatch(/DATABASE_URL/);
    expect(problems.join("\n")).toMatch(/CELINE_OIDC_CLIENT_SECRET is empty/);
    expect(problems.join("\n")).toMatch(/CELINE_OIDC_BASE_URL is left at a local default/);
    expect(problems.join("\n")).toMatch(/CELINE_OIDC_JWKS_URI is left at a local default/);
  });

  test.each([
    ["postgres", "postgres://postgres:postgres@db.internal/flex"],
    ["password", "postgres://flex:password@db.internal/flex"],
    ["changeme (any case)", "postgresql://flex:ChangeMe@db.internal/flex"],
    ["percent-encoded", "postgres://flex:p%61ssword@db.internal/flex"],
  ])("a development database password (%s) is named", (_, url) => {
    expect(problemsOf({ ...SECURE, DATABASE_URL: url })).toEqual([
      "DATABASE_URL carries a development password",
    ]);
  });

  test("an empty client secret is named", () => {
    expect(problemsOf({ ...SECURE, CELINE_OIDC_CLIENT_SECRET: "" })).toEqual([
      "CELINE_OIDC_CLIENT_SECRET is empty",
    ]);
  });

  test("a client secret equal to the client id is named", () => {
    expect(problemsOf({ ...SECURE, CELINE_OIDC_CLIENT_SECRET: "svc-flexibility" })).toEqual([
      "CELINE_OIDC_CLIENT_SECRET equals the client id",
    ]);
  });

  test.each([
    ["localhost", "http://localhost:8080/realms/celine"],
    ["127.0.0.1", "http://127.0.0.1:8080/realms/celine"],
    ["a .localhost name", "http://keycloak.localhost/realms/celine"],
  ])("an issuer at %s is named, and the JWKS derived from it too", (_, issuer) => {
    const problems = problemsOf({ ...SECURE, CELINE_OIDC_BASE_URL: issuer });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain("CELINE_OIDC_BASE_URL");
    expect(problems[1]).toContain("CELINE_OIDC_JWKS_URI");
  });

  test("a local JWKS under a real issuer is named on its own", () => {
    expect(problemsOf({ ...SECURE, CELINE_OIDC_JWKS_URI: "http://localhost:8080/certs" })).toEqual([
      "CELINE_OIDC_JWKS_URI is left at a local default (http://localhost:8080/certs)",
    ]);
  });

  test.each(["production", "staging", "DEV", "development", ""])(
    "CELINE_ENV=%p is hardened (only `dev` relaxes)",
    (value) => {
      expect(problemsOf({ CELINE_ENV: value }).length).toBeGreaterThan(0);
    },
  );

  test("malformed values are all named in one error", () => {
    let message = "";
    try {
      parseApiEnv({
        PORT: "eighty",
        DATABASE_URL: "mysql://db/flex",
        DB_SCHEMA: "flex; drop table x",
        COMMUNITY_TIMEZONE: "Mars/Olympus",
        CELINE_PUBLIC_DOCS: "maybe",
      });
    } catch (error) {
      message = (error as Error).message;
    }
    for (const name of ["PORT", "DATABASE_URL", "DB_SCHEMA", "COMMUNITY_TIMEZONE", "CELINE_PUBLIC_DOCS"]) {
      expect(message, message).toContain(`- ${name}:`);
    }
  });
});

describe("CELINE_PUBLIC_URL (where the calendar feed's URL points)", () => {
  const publicUrl = (env: Env) => coreConfigOf(parseApiEnv(env)).publicUrl;
  const LOADED = {
    loaded: true,
    detail: "loaded",
    authorizer: async () => ({ allow: false, reason: "-" }),
    probe: async () => true,
  };
  const startProblemsOf = (env: Env) =>
    startProblems(parseApiEnv(env), LOADED, createLogger({ level: "silent" }));

  test("set: used as it is, a trailing slash dropped, a proxy's path prefix kept", () => {
    expect(publicUrl({ CELINE_PUBLIC_URL: "https://flex.example.org" })).toBe("https://flex.example.org");
    expect(publicUrl({ CELINE_PUBLIC_URL: "https://celine.example.org/flexibility/" })).toBe(
      "https://celine.example.org/flexibility",
    );
  });

  test("unset or empty: the API's own address on this machine (development)", () => {
    expect(publicUrl({})).toBe("http://localhost:8017");
    expect(publicUrl({ PORT: "9001", CELINE_PUBLIC_URL: "" })).toBe("http://localhost:9001");
  });

  test.each(["ftp://flex.example.org", "flex.example.org", "webcal://flex.example.org"])(
    "%s is refused: only http(s) URLs",
    (value) => {
      expect(() => parseApiEnv({ CELINE_PUBLIC_URL: value })).toThrow("CELINE_PUBLIC_URL");
    },
  );

  test("outside dev the API refuses to start without it; in dev it is not needed", () => {
    expect(startProblemsOf(SECURE)).toEqual([
      "CELINE_PUBLIC_URL is unset (calendar feed URLs would point at http://localhost:8017)",
    ]);
    expect(startProblemsOf({ ...SECURE, CELINE_PUBLIC_URL: "https://flex.example.org" })).toEqual([]);
    expect(startProblemsOf({ CELINE_ENV: "dev" })).toEqual([]);
  });
});

describe("security", () => {
  test("CELINE_ENV=dev relaxes: nothing is refused", () => {
    expect(problemsOf({ CELINE_ENV: "dev" })).toEqual([]);
    expect(
      problemsOf({ CELINE_ENV: "dev", DATABASE_URL: "postgres://postgres:postgres@localhost/flex" }),
    ).toEqual([]);
  });

  test("CELINE_ENV=dev turns the docs on; elsewhere only CELINE_PUBLIC_DOCS does", () => {
    // The rule lives in server.ts (docs: isDev(env) || env.CELINE_PUBLIC_DOCS); check its inputs here.
    expect(parseApiEnv({ CELINE_ENV: "dev" }).CELINE_ENV).toBe("dev");
    expect(parseApiEnv({}).CELINE_PUBLIC_DOCS).toBe(false);
  });

  /** Run the real start script (`bun run start`) with exactly `env` (no CELINE_ENV=dev). */
  async function start(env: Env) {
    const proc = Bun.spawn(["bun", "run", "start"], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      stdout: "pipe",
      stderr: "pipe",
    });
    const timer = setTimeout(() => proc.kill(), 30_000);
    const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
    clearTimeout(timer);
    return { code, stderr };
  }

  test("bun run start with an insecure environment exits non-zero naming every problem", async () => {
    // Port 1: the database is never reached (the refusal comes first); the broker likewise.
    const { code, stderr } = await start({
      DATABASE_URL: "postgres://postgres:postgres@127.0.0.1:1/flex",
      CELINE_MQTT_PORT: "1",
      POLICY_DIR: join(ROOT, "does-not-exist"),
    });
    expect(code, stderr).not.toBe(0);
    for (const named of [
      "DATABASE_URL carries a development password",
      "CELINE_OIDC_CLIENT_SECRET is empty",
      "CELINE_OIDC_BASE_URL is left at a local default",
      "CELINE_OIDC_JWKS_URI is left at a local default",
      "policy bundle did not load",
      "CELINE_PUBLIC_URL is unset",
    ]) {
      expect(stderr, stderr).toContain(named);
    }
  }, 60_000);

  test("bun run start with a malformed environment exits non-zero naming the variable", async () => {
    const { code, stderr } = await start({ PORT: "eighty", CELINE_MQTT_PORT: "1" });
    expect(code, stderr).not.toBe(0);
    expect(stderr).toContain("PORT");
  }, 60_000);

  test("bun run start with an invalid FLEXIBILITY_CONFIG value exits non-zero naming the key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flex-config-"));
    const file = join(dir, "flexibility.yaml");
    const shipped = readFileSync(join(ROOT, "config/flexibility.yaml"), "utf8");
    writeFileSync(file, shipped.replace("min_shift_kw: 0.05", "min_shift_kw: -1"));
    const { code, stderr } = await start({ FLEXIBILITY_CONFIG: file, CELINE_MQTT_PORT: "1" });
    rmSync(dir, { recursive: true });
    expect(code, stderr).not.toBe(0);
    expect(stderr).toContain("flexibility_bonus.min_shift_kw");
  }, 60_000);
});

describe("the settlement method's YAML", () => {
  test("the shipped file is read by default: 15 points per kWh, seasons of 2 months from 2025-09-01", () => {
    const { method } = parseApiEnv({});
    expect(method.points.ratePerKwh).toBe(15);
    expect(method.season).toEqual({ anchorDate: "2025-09-01", monthsPerSeason: 2 });
  });

  test("POINTS_PER_KWH overrides bonus_rate_points_per_kwh", () => {
    expect(parseApiEnv({ POINTS_PER_KWH: "12" }).method.points.ratePerKwh).toBe(12);
  });

  test("a missing file is named", () => {
    expect(() => parseApiEnv({ FLEXIBILITY_CONFIG: "/nonexistent/flexibility.yaml" })).toThrow(
      "cannot read /nonexistent/flexibility.yaml",
    );
  });

  test.each([
    ["SEASON_ANCHOR", "2026-01-01", "season.anchor_date"],
    ["SEASON_LENGTH_MONTHS", "3", "season.months_per_season"],
    ["STREAK_BONUS_PCT", "5", "flexibility_bonus.streak"],
  ])("%s, now in the YAML, is refused naming %s's new home", (name, value, key) => {
    expect(() => parseApiEnv({ [name]: value })).toThrow(key);
  });
});

describe("the production guard means it (issue 14 item 5)", () => {
  const only = (env: Env) => problemsOf({ ...SECURE, ...env });

  test.each([
    ["localhost with the root's dot", "https://localhost./realms/celine"],
    ["LOCALHOST in capitals", "https://LOCALHOST:8443/realms/celine"],
    ["a name under .localhost with the root's dot", "https://keycloak.localhost./realms/celine"],
    ["127.0.0.2 (all of 127.0.0.0/8)", "https://127.0.0.2/realms/celine"],
    ["127.255.255.254", "https://127.255.255.254/realms/celine"],
    ["127.1 (short form)", "https://127.1/realms/celine"],
    ["2130706433 (one number)", "https://2130706433/realms/celine"],
    ["0x7f000001 (hex)", "https://0x7f000001/realms/celine"],
    ["0.0.0.0", "https://0.0.0.0/realms/celine"],
    ["0", "https://0/realms/celine"],
    ["[::1]", "https://[::1]:8443/realms/celine"],
    ["[0:0:0:0:0:0:0:1]", "https://[0:0:0:0:0:0:0:1]/realms/celine"],
    ["[::]", "https://[::]/realms/celine"],
    ["[::ffff:127.0.0.1] (IPv4-mapped)", "https://[::ffff:127.0.0.1]/realms/celine"],
    ["[::127.0.0.1] (IPv4-compatible)", "https://[::127.0.0.1]/realms/celine"],
  ])("an issuer at %s is local, and so is the JWKS derived from it", (_, issuer) => {
    expect(only({ CELINE_OIDC_BASE_URL: issuer })).toEqual([
      `CELINE_OIDC_BASE_URL is left at a local default (${issuer})`,
      expect.stringContaining("CELINE_OIDC_JWKS_URI is left at a local default"),
    ]);
  });

  test.each([
    ["a private in-cluster address", "https://10.0.4.7/realms/celine"],
    ["a name that merely starts like one", "https://localhost-idp.example.org/realms/celine"],
    ["127 in a name", "https://127.example.org/realms/celine"],
  ])("an issuer at %s is not local", (_, issuer) => {
    expect(only({ CELINE_OIDC_BASE_URL: issuer })).toEqual([]);
  });

  test("issuer and JWKS must be https: both named", () => {
    const issuer = "http://keycloak.celine.svc/realms/celine";
    expect(only({ CELINE_OIDC_BASE_URL: issuer })).toEqual([
      `CELINE_OIDC_BASE_URL must be https (${issuer}); CELINE_OIDC_ALLOW_HTTP=true allows an in-cluster http sidecar`,
      expect.stringMatching(/^CELINE_OIDC_JWKS_URI must be https \(http:\/\/keycloak\.celine\.svc\//),
    ]);
  });

  test("an http JWKS under an https issuer is named on its own", () => {
    expect(only({ CELINE_OIDC_JWKS_URI: "http://keycloak.celine.svc/certs" })).toEqual([
      "CELINE_OIDC_JWKS_URI must be https (http://keycloak.celine.svc/certs); CELINE_OIDC_ALLOW_HTTP=true allows an in-cluster http sidecar",
    ]);
  });

  test("CELINE_OIDC_ALLOW_HTTP=true admits an http sidecar (never a loopback one) and is logged at start", () => {
    const sidecar = {
      CELINE_OIDC_BASE_URL: "http://keycloak.celine.svc/realms/celine",
      CELINE_OIDC_ALLOW_HTTP: "true",
    };
    expect(only(sidecar)).toEqual([]);
    expect(only({ ...sidecar, CELINE_OIDC_BASE_URL: "http://127.0.0.1:8080/realms/celine" })).toHaveLength(2);
    const env = parseApiEnv({ ...SECURE, ...sidecar, CELINE_PUBLIC_URL: "https://flex.example.org" });
    expect(insecureAllowances(env)).toEqual([
      "CELINE_OIDC_ALLOW_HTTP=true: tokens are verified against keys fetched over plain http (http://keycloak.celine.svc/realms/celine, http://keycloak.celine.svc/realms/celine/protocol/openid-connect/certs)",
    ]);
    const logged: LogRecord[] = [];
    const log = createLogger({ sink: (r) => logged.push(r) });
    const loaded = {
      loaded: true,
      detail: "",
      authorizer: async () => ({ allow: false, reason: "" }),
      probe: async () => true,
    };
    expect(startProblems(env, loaded, log)).toEqual([]);
    expect(logged.map((l) => [l.level, l.msg])).toEqual([["warn", insecureAllowances(env).join()]]);
    // The listener and the settle CLI start through configOrExit: the same line, on stdout.
    const printed: string[] = [];
    const original = console.log;
    console.log = (line: string) => printed.push(line);
    try {
      expect(configOrExit(() => env, "start")).toBe(env);
    } finally {
      console.log = original;
    }
    expect(printed.map((line) => JSON.parse(line))).toEqual([
      expect.objectContaining({ level: "warn", msg: insecureAllowances(env).join() }),
    ]);
    // Nothing to say with https, nor in dev.
    expect(insecureAllowances(parseApiEnv({ ...SECURE, CELINE_OIDC_ALLOW_HTTP: "true" }))).toEqual([]);
    expect(insecureAllowances(parseApiEnv({ ...sidecar, CELINE_ENV: "dev" }))).toEqual([]);
  });

  test.each([
    ["a user without a password", "postgres://flex@db.internal:5432/flex"],
    ["no user at all", "postgres://db.internal:5432/flex"],
    ["an empty password", "postgres://flex:@db.internal:5432/flex"],
  ])("a DATABASE_URL with %s is named", (_, url) => {
    expect(only({ DATABASE_URL: url })).toEqual(["DATABASE_URL has no password"]);
  });

  test.each(["postgres123", "Password1", "123456", "qwerty", "admin123", "letmein", "Passw0rd"])(
    "a common database password (%s) is named",
    (password) => {
      expect(only({ DATABASE_URL: `postgres://flex:${password}@db.internal/flex` })).toEqual([
        "DATABASE_URL carries a development password",
      ]);
    },
  );

  test("a database password equal to the user name is named", () => {
    expect(only({ DATABASE_URL: "postgres://flexapp:flexapp@db.internal/flex" })).toEqual([
      "DATABASE_URL's password equals its user name",
    ]);
  });

  test("a client secret shorter than 16 characters is named; 16 is enough", () => {
    expect(only({ CELINE_OIDC_CLIENT_SECRET: "fifteen-chars-x" })).toEqual([
      "CELINE_OIDC_CLIENT_SECRET is shorter than 16 characters",
    ]);
    expect(only({ CELINE_OIDC_CLIENT_SECRET: "sixteen-chars-xy" })).toEqual([]);
  });

  test("every problem at once", () => {
    expect(
      problemsOf({
        DATABASE_URL: "postgres://flex@db.internal/flex",
        CELINE_OIDC_BASE_URL: "http://keycloak.celine.svc/realms/celine",
        CELINE_OIDC_JWKS_URI: "https://[::ffff:127.0.0.1]/certs",
        CELINE_OIDC_CLIENT_SECRET: "short",
      }),
    ).toEqual([
      "DATABASE_URL has no password",
      "CELINE_OIDC_CLIENT_SECRET is shorter than 16 characters",
      "CELINE_OIDC_BASE_URL must be https (http://keycloak.celine.svc/realms/celine); CELINE_OIDC_ALLOW_HTTP=true allows an in-cluster http sidecar",
      "CELINE_OIDC_JWKS_URI is left at a local default (https://[::ffff:127.0.0.1]/certs)",
    ]);
  });

  test("CELINE_ENV=dev still relaxes all of it (the dev stack's posture)", () => {
    expect(
      problemsOf({
        CELINE_ENV: "dev",
        DATABASE_URL: "postgres://postgres@127.0.0.1/flex",
        CELINE_OIDC_BASE_URL: "http://127.0.0.1:8080/realms/celine",
        CELINE_OIDC_CLIENT_SECRET: "short",
      }),
    ).toEqual([]);
  });
});
