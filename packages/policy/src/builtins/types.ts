import { BuiltinError } from "../errors.ts";
import { isObject, isSet, type RegoObject, type RegoSet, typeName, type Value } from "../values.ts";

/** A builtin returns `undefined` to make the calling expression undefined (e.g. `to_number("x")` fails). */
export type BuiltinFn = (args: Value[], name: string) => Value | undefined;
export type Builtin = { arity: number; fn: BuiltinFn };

export function operandError(name: string, pos: number, want: string, got: Value): BuiltinError {
  return new BuiltinError(
    "eval_type_error",
    `${name}: operand ${pos} must be ${want} but got ${typeName(got)}`,
  );
}

export function builtinError(name: string, message: string): BuiltinError {
  return new BuiltinError("eval_builtin_error", `${name}: ${message}`);
}

export function argString(args: Value[], i: number, name: string): string {
  const v = args[i] as Value;
  if (typeof v !== "string") throw operandError(name, i + 1, "string", v);
  return v;
}

export function argNumber(args: Value[], i: number, name: string): number {
  const v = args[i] as Value;
  if (typeof v !== "number") throw operandError(name, i + 1, "number", v);
  return v;
}

export function argInt(args: Value[], i: number, name: string): number {
  const n = argNumber(args, i, name);
  if (!Number.isInteger(n)) throw operandError(name, i + 1, "integer", n);
  return n;
}

export function argArray(args: Value[], i: number, name: string): Value[] {
  const v = args[i] as Value;
  if (!Array.isArray(v)) throw operandError(name, i + 1, "array", v);
  return v;
}

export function argObject(args: Value[], i: number, name: string): RegoObject {
  const v = args[i] as Value;
  if (!isObject(v)) throw operandError(name, i + 1, "object", v);
  return v;
}

export function argSet(args: Value[], i: number, name: string): RegoSet {
  const v = args[i] as Value;
  if (!isSet(v)) throw operandError(name, i + 1, "set", v);
  return v;
}

/** Elements of an array or set (the `any<array, set>` operand type of OPA). */
export function argCollection(args: Value[], i: number, name: string, want = "one of {array, set}"): Value[] {
  const v = args[i] as Value;
  if (Array.isArray(v)) return v;
  if (isSet(v)) return [...v.items.values()];
  throw operandError(name, i + 1, want, v);
}
