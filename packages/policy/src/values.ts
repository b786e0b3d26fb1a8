// Rego values. Scalars are plain JS values; arrays are JS arrays; objects and sets are Map-backed so that
// keys may be any Rego value (OPA allows `{1: "a"}` and `{[1, 2]}`).
// Numbers are float64: int and float compare equal (`1 == 1.0`), as in OPA.

export type Scalar = null | boolean | number | string;
export type Value = Scalar | Value[] | RegoObject | RegoSet;

/** Map key for a value: primitives key themselves (so "1" and 1 stay distinct), composites a canonical string. */
export type ValueKey = Scalar;

export class RegoObject {
  readonly entries = new Map<ValueKey, [Value, Value]>();

  get size(): number {
    return this.entries.size;
  }

  get(key: Value): Value | undefined {
    return this.entries.get(keyOf(key))?.[1];
  }

  set(key: Value, value: Value): void {
    this.entries.set(keyOf(key), [key, value]);
  }
}

export class RegoSet {
  readonly items = new Map<ValueKey, Value>();

  get size(): number {
    return this.items.size;
  }

  has(v: Value): boolean {
    return this.items.has(keyOf(v));
  }

  add(v: Value): void {
    this.items.set(keyOf(v), v);
  }
}

// A prefix that cannot start a JSON-sourced string in practice keeps composite keys apart from string keys.
const COMPOSITE_PREFIX = "\u0000\u0001";

export function keyOf(v: Value): ValueKey {
  if (v === null || typeof v !== "object") return v;
  return COMPOSITE_PREFIX + canonicalize(v);
}

function canonicalize(v: Value): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      return `n${v}`;
    case "string":
      return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalize).join(",")}]`;
  if (v instanceof RegoSet) return `s{${[...v.items.values()].map(canonicalize).sort().join(",")}}`;
  const parts = [...v.entries.values()].map(([k, x]) => `${canonicalize(k)}:${canonicalize(x)}`);
  return `o{${parts.sort().join(",")}}`;
}

export function isObject(v: Value | undefined): v is RegoObject {
  return v instanceof RegoObject;
}

export function isSet(v: Value | undefined): v is RegoSet {
  return v instanceof RegoSet;
}

export function typeName(v: Value): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return "boolean";
    case "number":
      return "number";
    case "string":
      return "string";
  }
  if (Array.isArray(v)) return "array";
  return v instanceof RegoSet ? "set" : "object";
}

function typeRank(v: Value): number {
  if (v === null) return 0;
  switch (typeof v) {
    case "boolean":
      return 1;
    case "number":
      return 2;
    case "string":
      return 3;
  }
  if (Array.isArray(v)) return 4;
  return v instanceof RegoObject ? 5 : 6;
}

export function equalValues(a: Value, b: Value): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equalValues(a[i] as Value, b[i] as Value)) return false;
    return true;
  }
  if (a instanceof RegoSet) {
    if (!(b instanceof RegoSet) || a.size !== b.size) return false;
    for (const k of a.items.keys()) if (!b.items.has(k)) return false;
    return true;
  }
  if (!(b instanceof RegoObject) || a.size !== b.size) return false;
  for (const [k, [, av]] of a.entries) {
    const bv = b.entries.get(k);
    if (bv === undefined || !equalValues(av, bv[1])) return false;
  }
  return true;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Total order of OPA: null < boolean < number < string < array < object < set. */
export function compareValues(a: Value, b: Value): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return Number(a) - Number(b);
    case 2:
      return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    case 3:
      return compareStrings(a as string, b as string);
    case 4:
      return compareSequences(a as Value[], b as Value[]);
    case 5: {
      const ea = sortedEntries(a as RegoObject);
      const eb = sortedEntries(b as RegoObject);
      const n = Math.min(ea.length, eb.length);
      for (let i = 0; i < n; i++) {
        const [ka, va] = ea[i] as [Value, Value];
        const [kb, vb] = eb[i] as [Value, Value];
        const c = compareValues(ka, kb) || compareValues(va, vb);
        if (c !== 0) return c;
      }
      return ea.length - eb.length;
    }
    default:
      return compareSequences(sortedSetItems(a as RegoSet), sortedSetItems(b as RegoSet));
  }
}

function compareSequences(a: Value[], b: Value[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareValues(a[i] as Value, b[i] as Value);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

export function sortedSetItems(s: RegoSet): Value[] {
  return [...s.items.values()].sort(compareValues);
}

export function sortedEntries(o: RegoObject): [Value, Value][] {
  return [...o.entries.values()].sort((x, y) => compareValues(x[0], y[0]));
}

export function makeSet(items: Iterable<Value>): RegoSet {
  const s = new RegoSet();
  for (const v of items) s.add(v);
  return s;
}

export function makeObject(entries: Iterable<[Value, Value]>): RegoObject {
  const o = new RegoObject();
  for (const [k, v] of entries) o.set(k, v);
  return o;
}

/** Converts JSON-like JS data (input, data documents) into Rego values; `undefined` stays undefined. */
export function fromJson(x: unknown): Value | undefined {
  if (x === null) return null;
  switch (typeof x) {
    case "boolean":
    case "string":
      return x;
    case "number":
      return Number.isFinite(x) ? x : undefined;
    case "bigint":
      return Number(x);
    case "object":
      break;
    default:
      return undefined;
  }
  if (Array.isArray(x)) {
    const out: Value[] = [];
    for (const item of x) out.push(fromJson(item) ?? null);
    return out;
  }
  if (x instanceof RegoObject || x instanceof RegoSet) return x;
  const o = new RegoObject();
  for (const k of Object.keys(x)) {
    const v = fromJson((x as Record<string, unknown>)[k]);
    if (v !== undefined) o.entries.set(k, [k, v]);
  }
  return o;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Converts a Rego value to JSON as OPA serialises it: sets become sorted arrays, object keys strings. */
export function toJson(v: Value): Json {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(toJson);
  if (v instanceof RegoSet) return sortedSetItems(v).map(toJson);
  const out: { [key: string]: Json } = {};
  for (const [k, x] of sortedEntries(v))
    out[typeof k === "string" ? k : JSON.stringify(toJson(k))] = toJson(x);
  return out;
}

/** Rego source form of a value, as OPA prints it (used by sprintf %v and error messages). */
export function formatValue(v: Value): string {
  if (v === null) return "null";
  switch (typeof v) {
    case "boolean":
      return v ? "true" : "false";
    case "number":
      return formatNumber(v);
    case "string":
      return JSON.stringify(v);
  }
  if (Array.isArray(v)) return `[${v.map(formatValue).join(", ")}]`;
  if (v instanceof RegoSet) {
    if (v.size === 0) return "set()";
    return `{${sortedSetItems(v).map(formatValue).join(", ")}}`;
  }
  return `{${sortedEntries(v)
    .map(([k, x]) => `${formatValue(k)}: ${formatValue(x)}`)
    .join(", ")}}`;
}

export function formatNumber(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return n.toFixed(0);
  return String(n);
}
