// sprintf after Go's fmt, which OPA uses: strings pass as strings, numbers as big numbers, everything
// else prints in Rego syntax. Supports flags (- + 0 space #), width, precision and the common verbs.
import { formatNumber, formatValue, type Value } from "../values.ts";
import { argArray, argString, type Builtin } from "./types.ts";

function pad(s: string, width: number | undefined, left: boolean, zero: boolean): string {
  if (width === undefined || s.length >= width) return s;
  if (left) return s + " ".repeat(width - s.length);
  if (zero) {
    const sign = s[0] === "-" || s[0] === "+" ? (s[0] as string) : "";
    const body = sign ? s.slice(1) : s;
    return sign + "0".repeat(width - s.length) + body;
  }
  return " ".repeat(width - s.length) + s;
}

function plainString(v: Value): string {
  if (typeof v === "string") return v;
  if (typeof v === "number") return formatNumber(v);
  return formatValue(v);
}

function formatInteger(n: number, radix: number, upper: boolean): string {
  const s = Math.abs(n).toString(radix);
  return (n < 0 ? "-" : "") + (upper ? s.toUpperCase() : s);
}

export function formatString(format: string, values: Value[]): string {
  let out = "";
  let argi = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format[i] as string;
    if (c !== "%") {
      out += c;
      continue;
    }
    i++;
    let left = false;
    let zero = false;
    let plus = false;
    let space = false;
    let sharp = false;
    for (; i < format.length; i++) {
      const f = format[i];
      if (f === "-") left = true;
      else if (f === "0") zero = true;
      else if (f === "+") plus = true;
      else if (f === " ") space = true;
      else if (f === "#") sharp = true;
      else break;
    }
    let width: number | undefined;
    let ws = "";
    while (i < format.length && /[0-9]/.test(format[i] as string)) ws += format[i++];
    if (ws) width = Number(ws);
    let prec: number | undefined;
    if (format[i] === ".") {
      i++;
      let ps = "";
      while (i < format.length && /[0-9]/.test(format[i] as string)) ps += format[i++];
      prec = ps ? Number(ps) : 0;
    }
    const verb = format[i];
    if (verb === undefined) {
      out += "%!(NOVERB)";
      break;
    }
    if (verb === "%") {
      out += "%";
      continue;
    }
    if (argi >= values.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const v = values[argi++] as Value;
    let s: string;
    const sign = (num: number, body: string) => (num >= 0 ? (plus ? "+" : space ? " " : "") : "") + body;
    switch (verb) {
      case "s":
      case "v":
        s = plainString(v);
        if (prec !== undefined && verb === "s") s = [...s].slice(0, prec).join("");
        break;
      case "q":
        s = typeof v === "string" ? JSON.stringify(v) : `%!q(${plainString(v)})`;
        break;
      case "t":
        s = typeof v === "boolean" ? String(v) : `%!t(${plainString(v)})`;
        break;
      case "d":
        s =
          typeof v === "number" && Number.isInteger(v)
            ? sign(v, formatInteger(v, 10, false))
            : `%!d(${plainString(v)})`;
        break;
      case "x":
      case "X":
        if (typeof v === "number" && Number.isInteger(v))
          s = (sharp ? "0x" : "") + formatInteger(v, 16, verb === "X");
        else if (typeof v === "string")
          s = [...new TextEncoder().encode(v)]
            .map((b) => b.toString(16).padStart(2, "0"))
            .join("")
            [verb === "X" ? "toUpperCase" : "toLowerCase"]();
        else s = `%!${verb}(${plainString(v)})`;
        break;
      case "o":
        s =
          typeof v === "number" && Number.isInteger(v)
            ? formatInteger(v, 8, false)
            : `%!o(${plainString(v)})`;
        break;
      case "b":
        s =
          typeof v === "number" && Number.isInteger(v)
            ? formatInteger(v, 2, false)
            : `%!b(${plainString(v)})`;
        break;
      case "f":
      case "F":
        s = typeof v === "number" ? sign(v, v.toFixed(prec ?? 6)) : `%!f(${plainString(v)})`;
        break;
      case "e":
      case "E": {
        if (typeof v !== "number") {
          s = `%!e(${plainString(v)})`;
          break;
        }
        // Go writes at least two exponent digits: 1.000000e+00.
        const t = v.toExponential(prec ?? 6).replace(/e([+-])(\d)$/, "e$10$2");
        s = sign(v, verb === "E" ? t.toUpperCase() : t);
        break;
      }
      case "g":
      case "G":
        s = typeof v === "number" ? sign(v, String(v)) : `%!g(${plainString(v)})`;
        break;
      default:
        s = `%!${verb}(${plainString(v)})`;
    }
    out += pad(s, width, left, zero && !left && verb !== "s" && verb !== "v");
  }
  if (argi < values.length) {
    out += `%!(EXTRA ${values
      .slice(argi)
      .map((v) => plainString(v))
      .join(", ")})`;
  }
  return out;
}

export const sprintfBuiltins: Record<string, Builtin> = {
  sprintf: {
    arity: 2,
    fn: (args, name) => formatString(argString(args, 0, name), argArray(args, 1, name)),
  },
};
