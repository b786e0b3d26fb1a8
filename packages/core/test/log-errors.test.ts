import { describe, expect, test } from "bun:test";
import { DrizzleQueryError } from "drizzle-orm/errors";
import { databaseUnavailable } from "../src/db/errors.ts";
import { createLogger, errorFields, type LogRecord } from "../src/log.ts";

// Issue 14, item 2: what a log line keeps of a database error (the driver's cause and code, never
// the query's parameters), and which failures mean the database is unavailable (503) rather than a bug.

/** What postgres.js rejects with for a server error (fields as the driver sets them). */
function postgresError(code: string, message: string, extra: Record<string, unknown> = {}): Error {
  return Object.assign(new Error(message), { name: "PostgresError", code, severity: "FATAL", ...extra });
}

function socketError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, errno: -111, syscall: "connect" });
}

describe("errorFields", () => {
  test("drizzle's wrapper: the statement without its parameters, the driver's cause with its code", () => {
    const error = new DrizzleQueryError(
      'select "id" from "flexibility_commitments" where "user_id" = $1',
      ["member-4711", "7e1d0c3a-5b2f-4c8e-9a71-3f6b2d8c4e10"],
      socketError("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.7:5432"),
    );
    const fields = errorFields(error);
    const line = JSON.stringify(fields);
    expect(fields).toMatchObject({
      name: "DrizzleQueryError",
      message: 'Failed query: select "id" from "flexibility_commitments" where "user_id" = $1',
      cause: {
        code: "ECONNREFUSED",
        errno: -111,
        syscall: "connect",
        message: "connect ECONNREFUSED 10.0.0.7:5432",
      },
    });
    expect(line).not.toContain("member-4711");
    expect(line).not.toContain("7e1d0c3a");
    expect(line).not.toContain("params");
  });

  test("PostgreSQL's detail (it echoes values) is dropped; code, severity and constraint are kept", () => {
    const error = postgresError("23505", 'duplicate key value violates unique constraint "c_key"', {
      detail: "Key (user_id)=(member-4711) already exists.",
      constraint_name: "c_key",
    });
    const fields = errorFields(error);
    expect(fields).toMatchObject({ code: "23505", severity: "FATAL", constraint_name: "c_key" });
    expect(JSON.stringify(fields)).not.toContain("member-4711");
  });

  test("the stack keeps its frames, not the message (drizzle's first lines list the parameters)", () => {
    const error = new DrizzleQueryError("select $1", ["secret-value"], undefined);
    const fields = errorFields(error);
    expect(String(fields.stack)).toMatch(/^\s+at /);
    expect(String(fields.stack)).not.toContain("secret-value");
  });

  test("a chain of causes is followed, a bounded number of steps", () => {
    let error: Error = new Error("root");
    for (let i = 0; i < 20; i += 1) error = new Error(`level ${i}`, { cause: error });
    let depth = 0;
    for (let f = errorFields(error); f.cause; f = f.cause as ReturnType<typeof errorFields>) depth += 1;
    expect(depth).toBe(5);
  });

  test("the logger hands every sink plain fields, not the Error", () => {
    const records: LogRecord[] = [];
    const log = createLogger({ sink: (r) => records.push(r) });
    log.error("boom", { error: new DrizzleQueryError("select $1", ["secret-value"], undefined), other: 1 });
    expect(records[0]?.error).not.toBeInstanceOf(Error);
    expect(JSON.stringify(records[0])).not.toContain("secret-value");
    expect(records[0]?.other).toBe(1);
  });
});

describe("databaseUnavailable", () => {
  test.each<[string, unknown, string]>([
    [
      "refused, under drizzle",
      new DrizzleQueryError("select 1", [], socketError("ECONNREFUSED", "x")),
      "ECONNREFUSED",
    ],
    ["reset", socketError("ECONNRESET", "x"), "ECONNRESET"],
    ["an unknown host", socketError("ENOTFOUND", "x"), "ENOTFOUND"],
    [
      "postgres.js's connect timeout",
      Object.assign(new Error("x"), { code: "CONNECT_TIMEOUT" }),
      "CONNECT_TIMEOUT",
    ],
    [
      "a connection closed mid-query",
      Object.assign(new Error("x"), { code: "CONNECTION_CLOSED" }),
      "CONNECTION_CLOSED",
    ],
    ["the server shutting down", postgresError("57P01", "terminating connection"), "57P01"],
    ["the server starting up", postgresError("57P03", "the database system is starting up"), "57P03"],
    ["too many connections", postgresError("53300", "too many clients"), "53300"],
    ["a connection exception", postgresError("08006", "connection failure"), "08006"],
    ["a statement timeout", postgresError("57014", "canceling statement due to statement timeout"), "57014"],
  ])("%s → unavailable (%s)", (_, error, code) => {
    expect(databaseUnavailable(error)).toEqual({ code });
  });

  test.each<[string, unknown]>([
    ["a unique violation", new DrizzleQueryError("insert", [], postgresError("23505", "duplicate key"))],
    ["a syntax error", postgresError("42601", "syntax error")],
    ["a plain bug", new TypeError("x is undefined")],
    ["not an error", "ECONNREFUSED"],
  ])("%s → not unavailable", (_, error) => {
    expect(databaseUnavailable(error)).toBeNull();
  });
});
