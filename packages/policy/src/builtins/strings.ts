// String builtins. Offsets and lengths count Unicode code points (Go runes), not UTF-16 units.
import { BuiltinError } from "../errors.ts";
import { isSet, typeName, type Value } from "../values.ts";
import {
  argArray,
  argCollection,
  argInt,
  argNumber,
  argString,
  type Builtin,
  builtinError,
  operandError,
} from "./types.ts";

function runes(s: string): string[] {
  return [...s];
}

function runeIndexOf(hay: string[], needle: string[], from: number): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function trimSet(s: string, cutset: string, leftSide: boolean, rightSide: boolean): string {
  const cut = new Set(runes(cutset));
  const r = runes(s);
  let a = 0;
  let b = r.length;
  if (leftSide) while (a < b && cut.has(r[a] as string)) a++;
  if (rightSide) while (b > a && cut.has(r[b - 1] as string)) b--;
  return r.slice(a, b).join("");
}

function stringsOf(args: Value[], i: number, name: string): string[] {
  const items = argCollection(args, i, name);
  return items.map((v) => {
    if (typeof v !== "string") {
      const kind = Array.isArray(args[i]) ? "array" : "set";
      throw new BuiltinError(
        "eval_type_error",
        `${name}: operand ${i + 1} must be ${kind} of strings but got ${kind} containing ${typeName(v)}`,
      );
    }
    return v;
  });
}

/** A string or a collection of strings, as strings.any_prefix_match accepts. */
function stringOrStrings(args: Value[], i: number, name: string): string[] {
  const v = args[i] as Value;
  if (typeof v === "string") return [v];
  if (Array.isArray(v) || isSet(v)) return stringsOf(args, i, name);
  throw operandError(name, i + 1, "one of {string, set, array}", v);
}

export const stringBuiltins: Record<string, Builtin> = {
  concat: {
    arity: 2,
    fn: (args, name) => {
      const sep = argString(args, 0, name);
      const v = args[1] as Value;
      // Sets join in sorted order, as OPA iterates them.
      const items = isSet(v) ? [...v.items.values()].sort() : argArray(args, 1, name);
      return items
        .map((x) => {
          if (typeof x !== "string") throw operandError(name, 2, "one of {array[string], set[string]}", v);
          return x;
        })
        .join(sep);
    },
  },
  split: { arity: 2, fn: (args, name) => argString(args, 0, name).split(argString(args, 1, name)) },
  startswith: { arity: 2, fn: (args, name) => argString(args, 0, name).startsWith(argString(args, 1, name)) },
  endswith: { arity: 2, fn: (args, name) => argString(args, 0, name).endsWith(argString(args, 1, name)) },
  contains: { arity: 2, fn: (args, name) => argString(args, 0, name).includes(argString(args, 1, name)) },
  lower: { arity: 1, fn: (args, name) => argString(args, 0, name).toLowerCase() },
  upper: { arity: 1, fn: (args, name) => argString(args, 0, name).toUpperCase() },
  trim: {
    arity: 2,
    fn: (args, name) => trimSet(argString(args, 0, name), argString(args, 1, name), true, true),
  },
  trim_left: {
    arity: 2,
    fn: (args, name) => trimSet(argString(args, 0, name), argString(args, 1, name), true, false),
  },
  trim_right: {
    arity: 2,
    fn: (args, name) => trimSet(argString(args, 0, name), argString(args, 1, name), false, true),
  },
  trim_prefix: {
    arity: 2,
    fn: (args, name) => {
      const s = argString(args, 0, name);
      const p = argString(args, 1, name);
      return s.startsWith(p) ? s.slice(p.length) : s;
    },
  },
  trim_suffix: {
    arity: 2,
    fn: (args, name) => {
      const s = argString(args, 0, name);
      const p = argString(args, 1, name);
      return p.length > 0 && s.endsWith(p) ? s.slice(0, s.length - p.length) : s;
    },
  },
  trim_space: { arity: 1, fn: (args, name) => argString(args, 0, name).trim() },
  replace: {
    arity: 3,
    fn: (args, name) => {
      const s = argString(args, 0, name);
      const old = argString(args, 1, name);
      const neu = argString(args, 2, name);
      return s.split(old).join(neu);
    },
  },
  substring: {
    arity: 3,
    fn: (args, name) => {
      const r = runes(argString(args, 0, name));
      const start = argInt(args, 1, name);
      const length = argInt(args, 2, name);
      if (start < 0) throw builtinError(name, "negative offset");
      if (start >= r.length) return "";
      return (length < 0 ? r.slice(start) : r.slice(start, start + length)).join("");
    },
  },
  indexof: {
    arity: 2,
    fn: (args, name) => {
      const hay = runes(argString(args, 0, name));
      const needle = runes(argString(args, 1, name));
      return runeIndexOf(hay, needle, 0);
    },
  },
  indexof_n: {
    arity: 2,
    fn: (args, name) => {
      const hay = runes(argString(args, 0, name));
      const needle = runes(argString(args, 1, name));
      const out: Value[] = [];
      for (let i = runeIndexOf(hay, needle, 0); i >= 0; i = runeIndexOf(hay, needle, i + 1)) out.push(i);
      return out;
    },
  },
  "strings.reverse": {
    arity: 1,
    fn: (args, name) =>
      runes(argString(args, 0, name))
        .reverse()
        .join(""),
  },
  "strings.count": {
    arity: 2,
    fn: (args, name) => {
      const s = argString(args, 0, name);
      const sub = argString(args, 1, name);
      if (sub === "") return runes(s).length + 1;
      return s.split(sub).length - 1;
    },
  },
  "strings.any_prefix_match": {
    arity: 2,
    fn: (args, name) => {
      const ss = stringOrStrings(args, 0, name);
      const ps = stringOrStrings(args, 1, name);
      return ss.some((s) => ps.some((p) => s.startsWith(p)));
    },
  },
  "strings.any_suffix_match": {
    arity: 2,
    fn: (args, name) => {
      const ss = stringOrStrings(args, 0, name);
      const ps = stringOrStrings(args, 1, name);
      return ss.some((s) => ps.some((p) => s.endsWith(p)));
    },
  },
  format_int: {
    arity: 2,
    fn: (args, name) => {
      const n = argNumber(args, 0, name);
      const base = argNumber(args, 1, name);
      if (base !== 2 && base !== 8 && base !== 10 && base !== 16) {
        throw operandError(name, 2, "one of {2, 8, 10, 16}", base);
      }
      // OPA truncates towards zero before formatting (format_int(15.5, 16) is "f").
      const t = Math.trunc(n);
      return (t < 0 ? "-" : "") + Math.abs(t).toString(base);
    },
  },
  "units.parse_bytes": {
    arity: 1,
    fn: (args, name) => {
      const s = argString(args, 0, name).replace(/"/g, "").trim().toLowerCase();
      const m = /^([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([kmgtpe]i?)?b?$/.exec(s);
      if (!m) throw builtinError(name, "could not parse byte amount");
      const units: Record<string, number> = {
        k: 1e3,
        m: 1e6,
        g: 1e9,
        t: 1e12,
        p: 1e15,
        e: 1e18,
        ki: 2 ** 10,
        mi: 2 ** 20,
        gi: 2 ** 30,
        ti: 2 ** 40,
        pi: 2 ** 50,
        ei: 2 ** 60,
      };
      const unit = m[2] ?? "";
      return Math.floor(Number(m[1]) * (unit ? (units[unit] ?? 1) : 1));
    },
  },
  to_number: {
    arity: 1,
    fn: (args, name) => {
      const v = args[0] as Value;
      if (v === null) return 0;
      if (typeof v === "boolean") return v ? 1 : 0;
      if (typeof v === "number") return v;
      if (typeof v !== "string") throw operandError(name, 1, "one of {null, boolean, number, string}", v);
      if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v.trim()) || v.trim() !== v) {
        throw builtinError(name, `strconv.ParseFloat: parsing ${JSON.stringify(v)}: invalid syntax`);
      }
      return Number(v);
    },
  },
};
