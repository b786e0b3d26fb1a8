// Log output of `bun run dev`: one short coloured line per record in a terminal, the usual JSON
// lines otherwise (piped to a file or a collector, the records stay machine-readable).
import { jsonSink, type LogRecord, type LogSink } from "@celine/core";

const COLOURS = { debug: "\x1b[90m", info: "\x1b[36m", warn: "\x1b[33m", error: "\x1b[31m" } as const;
const DIM = "\x1b[2m";
const BOLD = "\x1b[1m";
const RESET = "\x1b[0m";
/** Fields shown elsewhere on the line, or too noisy to repeat on every line. */
const HIDDEN = new Set(["time", "level", "msg", "service", "logger", "component"]);

/** Pretty in a TTY (unless LOG_FORMAT=json), JSON lines otherwise (unless LOG_FORMAT=pretty). */
export function chooseSink(format: string | undefined, isTty: boolean): LogSink {
  if (format === "json") return jsonSink;
  if (format === "pretty" || (format === undefined && isTty)) return createPrettySink({ colour: isTty });
  return jsonSink;
}

export function createPrettySink({
  colour,
  write = (line) => console.log(line),
}: {
  colour: boolean;
  write?: (line: string) => void;
}): LogSink {
  const paint = (code: string, text: string) => (colour ? `${code}${text}${RESET}` : text);
  return (record) => write(formatRecord(record, paint));
}

export function formatRecord(record: LogRecord, paint: (code: string, text: string) => string): string {
  const time = record.time.slice(11, 23);
  const level = paint(COLOURS[record.level], record.level.toUpperCase().padEnd(5));
  const source = record.component ?? record.logger ?? record.service;
  const origin = typeof source === "string" ? paint(DIM, `[${source}]`.padEnd(17)) : "".padEnd(17);
  const fields = Object.entries(record)
    .filter(([key, value]) => !HIDDEN.has(key) && value !== undefined)
    .map(([key, value]) => `${paint(DIM, `${key}=`)}${formatValue(value)}`)
    .join(" ");
  return `${paint(DIM, time)} ${level} ${origin} ${paint(BOLD, record.msg)}${fields ? ` ${fields}` : ""}`;
}

function formatValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  // The logger hands errors over as plain fields (core's errorFields): their messages, cause by cause.
  if (isErrorFields(value)) return JSON.stringify(causeChain(value));
  if (typeof value === "string") return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}

type ErrorFields = { name: string; message: string; code?: unknown; cause?: unknown };

function isErrorFields(value: unknown): value is ErrorFields {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ErrorFields).name === "string" &&
    typeof (value as ErrorFields).message === "string"
  );
}

function causeChain(error: ErrorFields): string {
  const own = typeof error.code === "string" ? `${error.message} [${error.code}]` : error.message;
  return isErrorFields(error.cause) ? `${own} ← ${causeChain(error.cause)}` : own;
}
