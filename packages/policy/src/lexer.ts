import { RegoError } from "./errors.ts";

export type TokenKind = "ident" | "number" | "string" | "punct" | "eof";

/** `nl` records a line break before the token: Rego separates body expressions by newlines. */
export type Token = { kind: TokenKind; text: string; value: string; line: number; col: number; nl: boolean };

const PUNCT3: string[] = [];
const PUNCT2 = [":=", "==", "!=", "<=", ">="];
const PUNCT1 = "{}[]().,;:=<>+-*/%|&";

export function tokenize(src: string, file: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let lineStart = 0;
  let nl = true;
  const fail = (msg: string): never => {
    throw new RegoError("rego_parse_error", msg, { file, line, col: i - lineStart + 1 });
  };
  while (i < src.length) {
    const c = src[i] as string;
    if (c === "\n") {
      i++;
      line++;
      lineStart = i;
      nl = true;
      continue;
    }
    if (c === " " || c === "\t" || c === "\r") {
      i++;
      continue;
    }
    if (c === "#") {
      while (i < src.length && src[i] !== "\n") i++;
      continue;
    }
    const start = i;
    const col = i - lineStart + 1;
    const push = (kind: TokenKind, value: string) => {
      out.push({ kind, text: src.slice(start, i), value, line, col, nl });
      nl = false;
    };
    if (/[A-Za-z_]/.test(c)) {
      while (i < src.length && /[A-Za-z0-9_]/.test(src[i] as string)) i++;
      push("ident", src.slice(start, i));
      continue;
    }
    if (/[0-9]/.test(c)) {
      while (i < src.length && /[0-9]/.test(src[i] as string)) i++;
      if (src[i] === "." && /[0-9]/.test(src[i + 1] ?? "")) {
        i++;
        while (i < src.length && /[0-9]/.test(src[i] as string)) i++;
      }
      if (src[i] === "e" || src[i] === "E") {
        const save = i;
        i++;
        if (src[i] === "+" || src[i] === "-") i++;
        if (/[0-9]/.test(src[i] ?? "")) while (i < src.length && /[0-9]/.test(src[i] as string)) i++;
        else i = save;
      }
      push("number", src.slice(start, i));
      continue;
    }
    if (c === '"') {
      i++;
      let s = "";
      for (;;) {
        if (i >= src.length || src[i] === "\n") fail("unterminated string");
        const d = src[i] as string;
        if (d === '"') {
          i++;
          break;
        }
        if (d === "\\") {
          const e = src[i + 1];
          i += 2;
          switch (e) {
            case "n":
              s += "\n";
              break;
            case "t":
              s += "\t";
              break;
            case "r":
              s += "\r";
              break;
            case "b":
              s += "\b";
              break;
            case "f":
              s += "\f";
              break;
            case '"':
            case "\\":
            case "/":
              s += e;
              break;
            case "u": {
              const hex = src.slice(i, i + 4);
              if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("invalid unicode escape");
              s += String.fromCharCode(Number.parseInt(hex, 16));
              i += 4;
              break;
            }
            default:
              fail(`invalid escape \\${e ?? ""}`);
          }
          continue;
        }
        s += d;
        i++;
      }
      push("string", s);
      continue;
    }
    if (c === "`") {
      const end = src.indexOf("`", i + 1);
      if (end < 0) fail("unterminated raw string");
      const raw = src.slice(i + 1, end);
      for (const ch of raw) {
        if (ch === "\n") line++;
      }
      i = end + 1;
      push("string", raw);
      continue;
    }
    const two = src.slice(i, i + 2);
    if (PUNCT3.includes(src.slice(i, i + 3))) {
      i += 3;
    } else if (PUNCT2.includes(two)) {
      i += 2;
    } else if (PUNCT1.includes(c)) {
      i += 1;
    } else {
      fail(`unexpected character ${JSON.stringify(c)}`);
    }
    push("punct", src.slice(start, i));
  }
  out.push({ kind: "eof", text: "", value: "", line, col: i - lineStart + 1, nl: true });
  return out;
}
