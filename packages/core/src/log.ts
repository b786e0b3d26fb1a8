// Structured logs: one JSON object per line, with the bound fields (request id, component) on
// every line. A sink can be swapped (tests capture, `dev` pretty-prints).

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;
export type LogRecord = LogFields & { level: LogLevel; msg: string; time: string };
export type LogSink = (record: LogRecord) => void;

export type Logger = {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
};

const RANK: Record<LogLevel | "silent", number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

export const jsonSink: LogSink = (record) => console.log(JSON.stringify(record, errorReplacer));

export function createLogger({
  level = "info",
  sink = jsonSink,
  fields = {},
}: {
  level?: LogLevel | "silent";
  sink?: LogSink;
  fields?: LogFields;
} = {}): Logger {
  const emit = (at: LogLevel) => (msg: string, extra?: LogFields) => {
    if (RANK[at] < RANK[level]) return;
    sink({ time: new Date().toISOString(), level: at, msg, ...fields, ...loggable(extra) });
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (more) => createLogger({ level, sink, fields: { ...fields, ...more } }),
  };
}

/** A field's errors as `errorFields` describes them, before any sink sees them. */
function loggable(extra: LogFields | undefined): LogFields | undefined {
  if (!extra) return extra;
  let out: LogFields | undefined;
  for (const [key, value] of Object.entries(extra)) {
    if (!(value instanceof Error)) continue;
    out ??= { ...extra };
    out[key] = errorFields(value);
  }
  return out ?? extra;
}

function errorReplacer(_key: string, value: unknown) {
  return value instanceof Error ? errorFields(value) : value;
}

/** Properties of driver errors worth a log line: codes and names, never values. */
const ERROR_PROPERTIES = ["code", "errno", "syscall", "severity", "routine", "constraint_name", "table_name"];
/** How deep a chain of causes is followed (drizzle → postgres.js → the socket is three). */
const MAX_CAUSES = 5;
const MAX_QUERY_CHARS = 500;

/**
 * An error as a log line carries it: name, message, code (and the like), the stack's frames and the
 * chain of causes — where the reason a database call failed lives (drizzle wraps the driver's
 * error). What could carry the data of a request is left out: drizzle's message lists the query's
 * parameters (member ids, …), so only its statement text is kept; PostgreSQL's `detail` echoes
 * values ("Key (user_id)=(…) already exists"), so it is dropped.
 */
export function errorFields(error: Error, depth = 0): LogFields {
  // drizzle's DrizzleQueryError keeps the name "Error": its class says what it is.
  const name =
    error.name === "Error" && error.constructor.name !== "Error" ? error.constructor.name : error.name;
  const fields: LogFields = { name, message: safeMessage(error) };
  const record = error as unknown as Record<string, unknown>;
  for (const key of ERROR_PROPERTIES) {
    const value = record[key];
    if (typeof value === "string" || typeof value === "number") fields[key] = value;
  }
  // The frames alone: the stack's first lines repeat the message (drizzle's, with the parameters).
  const frames = error.stack
    ?.split("\n")
    .filter((line) => /^\s+at /.test(line))
    .join("\n");
  if (frames) fields.stack = frames;
  const cause = error.cause;
  if (cause instanceof Error && depth < MAX_CAUSES) fields.cause = errorFields(cause, depth + 1);
  else if (typeof cause === "string" || typeof cause === "number") fields.cause = cause;
  return fields;
}

function safeMessage(error: Error): string {
  // drizzle-orm's DrizzleQueryError: "Failed query: <sql>\nparams: <values>".
  const query = (error as { query?: unknown }).query;
  if ("params" in error && typeof query === "string") {
    const text = query.length > MAX_QUERY_CHARS ? `${query.slice(0, MAX_QUERY_CHARS)}…` : query;
    return `Failed query: ${text}`;
  }
  return error.message;
}
