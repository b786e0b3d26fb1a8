import { BuiltinError } from "../errors.ts";
import {
  compareValues,
  equalValues,
  isObject,
  isSet,
  makeSet,
  RegoObject,
  RegoSet,
  typeName,
  type Value,
} from "../values.ts";
import { sprintfBuiltins } from "./sprintf.ts";
import { stringBuiltins } from "./strings.ts";
import {
  argArray,
  argCollection,
  argInt,
  argNumber,
  argObject,
  argSet,
  type Builtin,
  builtinError,
  operandError,
} from "./types.ts";

export type { Builtin } from "./types.ts";

function lookup(v: Value, key: Value): Value | undefined {
  if (Array.isArray(v)) return typeof key === "number" && Number.isInteger(key) ? v[key] : undefined;
  if (isObject(v)) return v.get(key);
  if (isSet(v)) return v.has(key) ? key : undefined;
  return undefined;
}

function numbers(args: Value[], name: string): [number, number] {
  return [argNumber(args, 0, name), argNumber(args, 1, name)];
}

function isCollection(v: Value): boolean {
  return Array.isArray(v) || isObject(v) || isSet(v);
}

function numericItems(args: Value[], name: string): number[] {
  return argCollection(args, 0, name).map((v) => {
    if (typeof v !== "number")
      throw operandError(name, 1, "one of {array[number], set[number]}", args[0] as Value);
    return v;
  });
}

function unionOf(sets: Iterable<Value>): RegoSet {
  const out = new RegoSet();
  for (const s of sets) for (const [k, v] of (s as RegoSet).items) out.items.set(k, v);
  return out;
}

function intersectionOf(sets: RegoSet[]): RegoSet {
  const out = new RegoSet();
  const [first, ...rest] = sets;
  if (!first) return out;
  for (const [k, v] of first.items) if (rest.every((s) => s.items.has(k))) out.items.set(k, v);
  return out;
}

function setsOf(args: Value[], name: string): RegoSet[] {
  const s = argSet(args, 0, name);
  const items = [...s.items.values()];
  for (const x of items) if (!isSet(x)) throw operandError(name, 1, "set[set[any]]", s);
  return items as RegoSet[];
}

const compare = (pred: (c: number) => boolean): Builtin => ({
  arity: 2,
  fn: (args) => pred(compareValues(args[0] as Value, args[1] as Value)),
});

const typeCheck = (t: string): Builtin => ({ arity: 1, fn: (args) => typeName(args[0] as Value) === t });

const coreBuiltins: Record<string, Builtin> = {
  equal: { arity: 2, fn: (args) => equalValues(args[0] as Value, args[1] as Value) },
  neq: { arity: 2, fn: (args) => !equalValues(args[0] as Value, args[1] as Value) },
  lt: compare((c) => c < 0),
  lte: compare((c) => c <= 0),
  gt: compare((c) => c > 0),
  gte: compare((c) => c >= 0),
  plus: { arity: 2, fn: (args, name) => numbers(args, name)[0] + numbers(args, name)[1] },
  mul: { arity: 2, fn: (args, name) => numbers(args, name)[0] * numbers(args, name)[1] },
  minus: {
    arity: 2,
    fn: (args, name) => {
      const [a, b] = args as [Value, Value];
      if (isSet(a) && isSet(b)) {
        const out = new RegoSet();
        for (const [k, v] of a.items) if (!b.items.has(k)) out.items.set(k, v);
        return out;
      }
      if (typeof a === "number" && typeof b === "number") return a - b;
      if (isSet(a) || isSet(b)) throw operandError(name, isSet(a) ? 2 : 1, "set", isSet(a) ? b : a);
      throw operandError(
        name,
        typeof a === "number" ? 2 : 1,
        "one of {number, set}",
        typeof a === "number" ? b : a,
      );
    },
  },
  div: {
    arity: 2,
    fn: (args, name) => {
      const [a, b] = numbers(args, name);
      if (b === 0) throw builtinError(name, "divide by zero");
      return a / b;
    },
  },
  rem: {
    arity: 2,
    fn: (args, name) => {
      const [a, b] = numbers(args, name);
      if (!Number.isInteger(a) || !Number.isInteger(b))
        throw builtinError(name, "modulo on floating-point number");
      if (b === 0) throw builtinError(name, "modulo by zero");
      return a % b;
    },
  },
  or: { arity: 2, fn: (args, name) => unionOf([argSet(args, 0, name), argSet(args, 1, name)]) },
  and: { arity: 2, fn: (args, name) => intersectionOf([argSet(args, 0, name), argSet(args, 1, name)]) },
  abs: { arity: 1, fn: (args, name) => Math.abs(argNumber(args, 0, name)) },
  round: { arity: 1, fn: (args, name) => roundHalfAway(argNumber(args, 0, name)) },
  ceil: { arity: 1, fn: (args, name) => Math.ceil(argNumber(args, 0, name)) },
  floor: { arity: 1, fn: (args, name) => Math.floor(argNumber(args, 0, name)) },
  "numbers.range": {
    arity: 2,
    fn: (args, name) => {
      const a = argInt(args, 0, name);
      const b = argInt(args, 1, name);
      const out: Value[] = [];
      const step = a <= b ? 1 : -1;
      for (let i = a; step > 0 ? i <= b : i >= b; i += step) out.push(i);
      return out;
    },
  },
  "internal.member_2": {
    arity: 2,
    fn: (args) => {
      const [x, c] = args as [Value, Value];
      if (Array.isArray(c)) return c.some((v) => equalValues(v, x));
      if (isSet(c)) return c.has(x);
      if (isObject(c)) {
        for (const [, v] of c.entries.values()) if (equalValues(v, x)) return true;
      }
      return false;
    },
  },
  "internal.member_3": {
    arity: 3,
    fn: (args) => {
      const [k, x, c] = args as [Value, Value, Value];
      if (Array.isArray(c) || isObject(c)) {
        const v = lookup(c, k);
        return v !== undefined && equalValues(v, x);
      }
      return false;
    },
  },
  count: {
    arity: 1,
    fn: (args, name) => {
      const v = args[0] as Value;
      if (typeof v === "string") return [...v].length;
      if (Array.isArray(v)) return v.length;
      if (isObject(v) || isSet(v)) return v.size;
      throw operandError(name, 1, "one of {array, object, set, string}", v);
    },
  },
  sum: { arity: 1, fn: (args, name) => numericItems(args, name).reduce((a, b) => a + b, 0) },
  product: { arity: 1, fn: (args, name) => numericItems(args, name).reduce((a, b) => a * b, 1) },
  max: {
    arity: 1,
    fn: (args, name) => {
      const items = argCollection(args, 0, name);
      if (items.length === 0) return undefined;
      return items.reduce((a, b) => (compareValues(a, b) >= 0 ? a : b));
    },
  },
  min: {
    arity: 1,
    fn: (args, name) => {
      const items = argCollection(args, 0, name);
      if (items.length === 0) return undefined;
      return items.reduce((a, b) => (compareValues(a, b) <= 0 ? a : b));
    },
  },
  sort: { arity: 1, fn: (args, name) => [...argCollection(args, 0, name)].sort(compareValues) },
  "array.concat": { arity: 2, fn: (args, name) => [...argArray(args, 0, name), ...argArray(args, 1, name)] },
  "array.slice": {
    arity: 3,
    fn: (args, name) => {
      const a = argArray(args, 0, name);
      let start = argInt(args, 1, name);
      let stop = argInt(args, 2, name);
      if (start < 0) start = 0;
      if (stop > a.length) stop = a.length;
      return start >= stop ? [] : a.slice(start, stop);
    },
  },
  "array.reverse": { arity: 1, fn: (args, name) => [...argArray(args, 0, name)].reverse() },
  "object.get": {
    arity: 3,
    fn: (args, name) => {
      const o = argObject(args, 0, name);
      const key = args[1] as Value;
      const fallback = args[2] as Value;
      if (!Array.isArray(key)) return o.get(key) ?? fallback;
      let cur: Value = o;
      for (const k of key) {
        const next = lookup(cur, k);
        if (next === undefined || isSet(cur)) return fallback;
        cur = next;
      }
      return cur;
    },
  },
  "object.keys": {
    arity: 1,
    fn: (args, name) => makeSet([...argObject(args, 0, name).entries.values()].map(([k]) => k)),
  },
  "object.remove": {
    arity: 2,
    fn: (args, name) => {
      const o = argObject(args, 0, name);
      const keys = args[1] as Value;
      const drop = isObject(keys) ? [...keys.entries.values()].map(([k]) => k) : argCollection(args, 1, name);
      const gone = makeSet(drop);
      const out = new RegoObject();
      for (const [k, [kv, v]] of o.entries) if (!gone.has(kv)) out.entries.set(k, [kv, v]);
      return out;
    },
  },
  "object.union": {
    arity: 2,
    fn: (args, name) => mergeObjects(argObject(args, 0, name), argObject(args, 1, name)),
  },
  union: { arity: 1, fn: (args, name) => unionOf(setsOf(args, name)) },
  intersection: { arity: 1, fn: (args, name) => intersectionOf(setsOf(args, name)) },
  type_name: { arity: 1, fn: (args) => typeName(args[0] as Value) },
  is_null: typeCheck("null"),
  is_boolean: typeCheck("boolean"),
  is_number: typeCheck("number"),
  is_string: typeCheck("string"),
  is_array: typeCheck("array"),
  is_object: typeCheck("object"),
  is_set: typeCheck("set"),
  is_collection: { arity: 1, fn: (args) => isCollection(args[0] as Value) },
  print: { arity: -1, fn: () => true },
  trace: { arity: 1, fn: () => true },
};

/** OPA's object.union: keys of `b` win, except that two objects under one key merge recursively. */
function mergeObjects(a: RegoObject, b: RegoObject): RegoObject {
  const out = new RegoObject();
  for (const [k, e] of a.entries) out.entries.set(k, e);
  for (const [k, [kv, bv]] of b.entries) {
    const av = out.entries.get(k)?.[1];
    out.entries.set(k, [kv, isObject(av) && isObject(bv) ? mergeObjects(av, bv) : bv]);
  }
  return out;
}

/** Go rounds half away from zero; Math.round rounds half up. */
function roundHalfAway(n: number): number {
  return Math.sign(n) * Math.round(Math.abs(n));
}

export const BUILTINS: ReadonlyMap<string, Builtin> = new Map(
  Object.entries({ ...coreBuiltins, ...stringBuiltins, ...sprintfBuiltins }),
);

export { BuiltinError };
