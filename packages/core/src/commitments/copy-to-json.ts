import { isoOfPgText, WIRE_COLUMNS, type WireKind } from "./out.ts";

/**
 * Renders PostgreSQL's COPY text of commitments as the CommitmentOut wire JSON, byte to byte: no
 * row objects, no strings. The output is exactly `JSON.stringify(toCommitmentOut(row))` (same keys,
 * order and formats), which the tests hold it to. Fields the fast paths do not cover (instants outside
 * years 1000–9999, decimals JavaScript would print differently) take the same route toCommitmentOut
 * does, through Date and Number.
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const KIND_CODES: Record<WireKind, number> = { verbatim: 0, text: 1, instant: 2, kwh: 3 };
const KINDS = Uint8Array.from(WIRE_COLUMNS, (col) => KIND_CODES[col.kind]);
/** `{"id":`, `,"user_id":`, …: what precedes each field's value, back to back; field i's at PREFIX_STARTS[i]. */
const PREFIXES = WIRE_COLUMNS.map((col, i) => `${i === 0 ? "{" : ","}"${col.key}":`);
const PREFIX_BYTES_ALL = encoder.encode(PREFIXES.join(""));
const PREFIX_BYTES = PREFIX_BYTES_ALL.length;
let prefixEnd = 0;
const PREFIX_STARTS = [0, ...PREFIXES.map((prefix) => (prefixEnd += prefix.length))];

const TAB = 9;
const NEWLINE = 10;
const BACKSLASH = 92;
const QUOTE = 34;
const DIGIT_0 = 48;
const DIGIT_9 = 57;
const DOT = 46;
const MINUS = 45;
/** COPY's escapes (`\b`, `\f`, …) → the byte they stand for. */
const COPY_ESCAPES: Record<number, number> = { 98: 8, 102: 12, 110: 10, 114: 13, 116: 9, 118: 11 };
/** JSON.stringify's short escapes for control bytes; the others become \u00XX (lowercase hex). */
const JSON_ESCAPES: Record<number, number> = { 8: 98, 9: 116, 10: 110, 12: 102, 13: 114 };
const HEX = encoder.encode("0123456789abcdef");
const indexOf = Uint8Array.prototype.indexOf;

/**
 * An output buffer that grows as needed; `take()` hands out a copy of what was written and starts
 * over, so the buffer itself is reused for the whole export.
 */
export class JsonRowWriter {
  private out = new Uint8Array(1 << 17);
  private at = 0;
  private rows = 0;
  /** Where the last line rendered lies (COPY text, in the caller's chunk): no views made per line. */
  private lastChunk: Uint8Array | null = null;
  private lastStart = 0;
  private lastEnd = 0;

  constructor(private readonly format: "json" | "ndjson") {}

  /** Bytes waiting to be taken. */
  get length(): number {
    return this.at;
  }

  /** Render every line of `chunk` (whole lines of COPY text); answers how many there were. */
  write(chunk: Uint8Array): number {
    let start = 0;
    let count = 0;
    while (start < chunk.length) {
      // TypedArray's own indexOf: a driver's Buffer overrides it with a slower one.
      let end = indexOf.call(chunk, NEWLINE, start);
      if (end < 0) end = chunk.length;
      this.row(chunk, start, end);
      this.lastChunk = chunk;
      this.lastStart = start;
      this.lastEnd = end;
      start = end + 1;
      count++;
    }
    return count;
  }

  /** The last line rendered, as COPY text; null before the first. */
  lastLine(): Uint8Array | null {
    return this.lastChunk?.subarray(this.lastStart, this.lastEnd) ?? null;
  }

  /** Everything written so far, and the closing bytes: `]` for an array (`[]` when empty). */
  finish(): Uint8Array {
    if (this.format === "json") this.bytes(this.rows === 0 ? "[]" : "]");
    return this.take();
  }

  take(): Uint8Array {
    const taken = this.out.slice(0, this.at);
    this.at = 0;
    return taken;
  }

  private row(src: Uint8Array, start: number, end: number) {
    // The worst case: every byte a \u00XX escape, plus keys, separators and instants' expansion.
    this.reserve(6 * (end - start) + PREFIX_BYTES + 64);
    const out = this.out;
    if (this.format === "json") out[this.at++] = this.rows === 0 ? 91 /* [ */ : 44; /* , */
    let p = start;
    for (let field = 0; field < KINDS.length; field++) {
      // Byte loops rather than set()/subarray()/indexOf(): for fields this short, the calls cost more.
      let at = this.at;
      for (let i = PREFIX_STARTS[field] as number, stop = PREFIX_STARTS[field + 1] as number; i < stop; i++)
        out[at++] = PREFIX_BYTES_ALL[i] as number;
      this.at = at;
      if (src[p] === BACKSLASH && src[p + 1] === 78 /* N */ && (p + 2 === end || src[p + 2] === TAB)) {
        out[this.at++] = 110; // n
        out[this.at++] = 117; // u
        out[this.at++] = 108; // l
        out[this.at++] = 108; // l
        p += 3;
        continue;
      }
      const kind = KINDS[field];
      if (kind === 1) {
        p = this.text(src, p, end) + 1;
        continue;
      }
      let q = p;
      while (q < end && src[q] !== TAB) q++;
      switch (kind) {
        case 0: // verbatim
          for (let i = p; i < q; i++) out[at++] = src[i] as number;
          this.at = at;
          break;
        case 2: // instant
          if (!this.instant(src, p, q)) this.bytes(slowInstant(decoder.decode(src.subarray(p, q))));
          break;
        case 3: // kwh
          if (!this.kwh(src, p, q)) this.bytes(slowKwh(decoder.decode(src.subarray(p, q))));
          break;
      }
      p = q + 1;
    }
    out[this.at++] = 125; // }
    if (this.format === "ndjson") out[this.at++] = NEWLINE;
    this.rows++;
  }

  /**
   * The COPY-escaped field from `p` (to the next tab or `end`) as a JSON string, escaped as
   * JSON.stringify escapes it; answers where the field ends. One pass: COPY escapes every tab in a value.
   */
  private text(src: Uint8Array, p: number, end: number): number {
    const out = this.out;
    let at = this.at;
    out[at++] = QUOTE;
    let i = p;
    for (; i < end; i++) {
      let b = src[i] as number;
      if (b === TAB) break;
      if (b === BACKSLASH && i + 1 < end) {
        const next = src[++i] as number;
        b = COPY_ESCAPES[next] ?? next;
      }
      if (b === QUOTE || b === BACKSLASH) {
        out[at++] = BACKSLASH;
        out[at++] = b;
      } else if (b < 0x20) {
        out[at++] = BACKSLASH;
        const short = JSON_ESCAPES[b];
        if (short !== undefined) out[at++] = short;
        else {
          out[at++] = 117; // u
          out[at++] = DIGIT_0;
          out[at++] = DIGIT_0;
          out[at++] = HEX[b >> 4] as number;
          out[at++] = HEX[b & 15] as number;
        }
      } else out[at++] = b;
    }
    out[at++] = QUOTE;
    this.at = at;
    return i;
  }

  /**
   * `YYYY-MM-DD HH:MM:SS[.ffffff]+00` (timestamptz in a UTC session) → `"YYYY-MM-DDTHH:MM:SS.mmmZ"`,
   * truncated to milliseconds as Date#toISOString does. False when the text has another shape.
   */
  private instant(src: Uint8Array, p: number, q: number): boolean {
    const n = q - p;
    if (n < 22 || n > 29 || n === 23 || src[p + 4] !== MINUS || src[p + 10] !== 32) return false;
    if (src[q - 3] !== 43 /* + */ || src[q - 2] !== DIGIT_0 || src[q - 1] !== DIGIT_0) return false;
    const out = this.out;
    let at = this.at;
    out[at++] = QUOTE;
    for (let i = p; i < p + 10; i++) out[at++] = src[i] as number;
    out[at++] = 84; // T
    for (let i = p + 11; i < p + 19; i++) out[at++] = src[i] as number;
    out[at++] = DOT;
    // Fraction digits sit between the dot at p + 19 and the offset at q - 3.
    const digitsEnd = q - 3;
    for (let i = p + 20; i < p + 23; i++) out[at++] = i < digitsEnd ? (src[i] as number) : DIGIT_0;
    out[at++] = 90; // Z
    out[at++] = QUOTE;
    this.at = at;
    return true;
  }

  /**
   * A numeric's decimal text as JSON.stringify(Number(text)) prints it, when that is just the decimal
   * without trailing zeros: at most 15 significant digits (so the double round-trips to it) and
   * between 1e-6 and 1e21 (where JavaScript does not switch to exponents). False otherwise.
   */
  private kwh(src: Uint8Array, p: number, q: number): boolean {
    let i = p;
    const negative = src[i] === MINUS;
    if (negative) i++;
    let dot = -1;
    let last = -1; // the last non-zero digit
    let firstSignificant = -1;
    for (let j = i; j < q; j++) {
      const b = src[j] as number;
      if (b === DOT) {
        if (dot >= 0) return false;
        dot = j;
      } else if (b < DIGIT_0 || b > DIGIT_9) return false;
      else if (b !== DIGIT_0) {
        if (firstSignificant < 0) firstSignificant = j;
        last = j;
      }
    }
    if (q === i || dot === i || dot === q - 1) return false;
    const out = this.out;
    if (firstSignificant < 0) {
      out[this.at++] = DIGIT_0; // every zero, -0 included, prints as 0
      return true;
    }
    const intEnd = dot < 0 ? q : dot;
    // Where the printed text ends: the integer part in full, the fraction up to its last non-zero digit.
    const stop = last > intEnd ? last + 1 : intEnd;
    const digits = stop - firstSignificant - (dot >= 0 && firstSignificant < dot && stop > dot ? 1 : 0);
    if (digits > 15 || intEnd - i > 21 || (src[i] === DIGIT_0 && intEnd - i > 1)) return false;
    if (firstSignificant > intEnd && firstSignificant - intEnd - 1 > 5) return false; // below 1e-6
    let at = this.at;
    if (negative) out[at++] = MINUS;
    for (let j = i; j < stop; j++) out[at++] = src[j] as number;
    this.at = at;
    return true;
  }

  private bytes(text: string) {
    const written = encoder.encodeInto(text, this.out.subarray(this.at));
    this.at += written.written;
  }

  private reserve(bytes: number) {
    if (this.at + bytes <= this.out.length) return;
    const bigger = new Uint8Array(Math.max(this.out.length * 2, this.at + bytes));
    bigger.set(this.out.subarray(0, this.at));
    this.out = bigger;
  }
}

/** As the list answers it (isoOfPgText), for the shapes the byte path leaves alone. */
function slowInstant(text: string): string {
  return JSON.stringify(isoOfPgText(text));
}

/** As toCommitmentOut: `Number(text)`, printed by JSON.stringify (NaN and ±Infinity become null). */
function slowKwh(text: string): string {
  return JSON.stringify(Number(text));
}
