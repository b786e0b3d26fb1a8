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
    sink({ time: new Date().toISOString(), level: at, msg, ...fields, ...extra });
  };
  return {
    debug: emit("debug"),
    info: emit("info"),
    warn: emit("warn"),
    error: emit("error"),
    child: (more) => createLogger({ level, sink, fields: { ...fields, ...more } }),
  };
}

function errorReplacer(_key: string, value: unknown) {
  return value instanceof Error ? { name: value.name, message: value.message, stack: value.stack } : value;
}
