// The protobuf wire primitives behind proto.ts and ops.ts: a writer that
// emits the canonical form, a strict field reader, and a codec driven by a
// message's field table (Schema), so that each message has exactly one
// encoding and one decoding. The rules are in proto.ts's header.

import { concat, fromUtf8, toU64, utf8, uvarint } from "./bytes.js";

/** A uint64 as accepted on input: a bigint, a safe integer, or decimal text. */
export type U64 = bigint | number | string;

export const WT_VARINT = 0;
export const WT_LEN = 2;

/** Builds one message's bytes; call field methods in field-number order. */
export class Writer {
  private parts: Uint8Array[] = [];

  private tag(field: number, wt: number): void {
    this.parts.push(uvarint((field << 3) | wt));
  }

  /** uint64/uint32 field; omitted when 0. */
  uint(field: number, v: bigint | number): void {
    const n = BigInt(v);
    if (n === 0n) return;
    this.tag(field, WT_VARINT);
    this.parts.push(uvarint(n));
  }

  /** int64/int32/enum field (two's complement, 64 bits); omitted when 0. */
  int64(field: number, v: bigint | number): void {
    const n = BigInt(v);
    if (n === 0n) return;
    this.tag(field, WT_VARINT);
    this.parts.push(uvarint(BigInt.asUintN(64, n)));
  }

  bool(field: number, v: boolean | undefined): void {
    if (!v) return;
    this.tag(field, WT_VARINT);
    this.parts.push(Uint8Array.of(1));
  }

  /** bytes field; omitted when empty. */
  bytes(field: number, v: Uint8Array | undefined): void {
    if (!v || v.length === 0) return;
    this.always(field, v);
  }

  /** string field; omitted when empty. */
  string(field: number, v: string | undefined): void {
    if (!v) return;
    this.always(field, utf8(v));
  }

  /** A length-delimited field written even when empty (non-nullable
   * messages, oneof members, elements of repeated fields). */
  always(field: number, v: Uint8Array): void {
    this.tag(field, WT_LEN);
    this.parts.push(uvarint(v.length), v);
  }

  finish(): Uint8Array {
    return concat(...this.parts);
  }
}

export function checkU32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`dstt: ${what} ${n} is not a uint32`);
  return n;
}

function checkI32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) throw new RangeError(`dstt: ${what} ${n} is not an int32`);
  return n;
}

// ---------------------------------------------------------------- reader

/** Thrown for bytes that are not a valid encoding of the message. */
export class DecodeError extends Error {
  override name = "DecodeError";
}

export type Field = { num: number; wt: number; varint: bigint; bytes: Uint8Array };

/** Splits a message into its fields, refusing malformed wire data. */
function fields(b: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (i >= b.length) throw new DecodeError("dstt: truncated varint");
      const c = b[i++] as number;
      v |= BigInt(c & 0x7f) << shift;
      if (c < 0x80) {
        if (v > (1n << 64n) - 1n) throw new DecodeError("dstt: varint overflows 64 bits");
        return v;
      }
    }
    throw new DecodeError("dstt: varint too long");
  };
  while (i < b.length) {
    const key = varint();
    const num = Number(key >> 3n);
    const wt = Number(key & 7n);
    if (num < 1 || num > 536870911) throw new DecodeError(`dstt: bad field number ${num}`);
    if (wt === WT_VARINT) {
      out.push({ num, wt, varint: varint(), bytes: new Uint8Array() });
    } else if (wt === WT_LEN) {
      const n = varint();
      if (n > BigInt(b.length - i)) throw new DecodeError("dstt: truncated length-delimited field");
      out.push({ num, wt, varint: 0n, bytes: b.subarray(i, i + Number(n)) });
      i += Number(n);
    } else {
      throw new DecodeError(`dstt: field ${num}: unsupported wire type ${wt}`);
    }
  }
  return out;
}

export type Spec = Record<number, "varint" | "len">;

/** Reads fields of a message whose field numbers and wire types are spec. */
export function read(b: Uint8Array, what: string, spec: Spec, each: (f: Field) => void): void {
  for (const f of fields(b)) {
    const want = spec[f.num];
    if (want === undefined) throw new DecodeError(`dstt: ${what}: unknown field ${f.num}`);
    if ((want === "varint") !== (f.wt === WT_VARINT)) throw new DecodeError(`dstt: ${what}: field ${f.num}: wrong wire type`);
    each(f);
  }
}

export function str(f: Field): string {
  try {
    return fromUtf8(f.bytes);
  } catch {
    throw new DecodeError(`dstt: field ${f.num}: invalid UTF-8`);
  }
}

export function u32(f: Field): number {
  if (f.varint > 0xffffffffn) throw new DecodeError(`dstt: field ${f.num}: overflows uint32`);
  return Number(f.varint);
}

function i32(f: Field): number {
  const v = BigInt.asIntN(64, f.varint);
  if (v < -0x80000000n || v > 0x7fffffffn) throw new DecodeError(`dstt: field ${f.num}: overflows int32`);
  return Number(v);
}

// ---------------------------------------------------------------- schemas

/**
 * A field's proto type: string, bytes, uint64 (bigint), int64 (bigint),
 * uint32 (number), int32 or enum (number), bool, repeated string, a
 * non-nullable embedded message (always written), or a repeated
 * non-nullable message (every element written).
 */
export type Kind = "string" | "bytes" | "u64" | "i64" | "u32" | "i32" | "bool" | "strings" | Schema | { repeated: Schema };

/** A message: its name (for errors) and its fields in field-number order. */
export interface Schema {
  name: string;
  fields: readonly (readonly [num: number, name: string, kind: Kind])[];
}

type Obj = Record<string, unknown>;

/** The canonical encoding of message m (an object with s's field names). */
export function encodeMessage(s: Schema, m: unknown): Uint8Array {
  const w = new Writer();
  const o = (m ?? {}) as Obj;
  for (const [n, name, k] of s.fields) {
    const x = o[name];
    const what = `${s.name}.${name}`;
    if (k === "string") w.string(n, x as string | undefined);
    else if (k === "bytes") w.bytes(n, x as Uint8Array | undefined);
    else if (k === "u64") w.uint(n, toU64((x ?? 0n) as U64, what));
    else if (k === "i64") w.int64(n, BigInt((x ?? 0n) as bigint | number));
    else if (k === "u32") w.uint(n, checkU32((x ?? 0) as number, what));
    else if (k === "i32") w.int64(n, checkI32((x ?? 0) as number, what));
    else if (k === "bool") w.bool(n, x as boolean | undefined);
    else if (k === "strings") for (const e of (x ?? []) as string[]) w.always(n, utf8(e));
    else if ("repeated" in k) for (const e of (x ?? []) as unknown[]) w.always(n, encodeMessage(k.repeated, e));
    else w.always(n, encodeMessage(k, x));
  }
  return w.finish();
}

const isVarint = (k: Kind): boolean => k === "u64" || k === "i64" || k === "u32" || k === "i32" || k === "bool";

function zero(k: Kind): unknown {
  if (k === "string") return "";
  if (k === "bytes") return new Uint8Array();
  if (k === "u64" || k === "i64") return 0n;
  if (k === "u32" || k === "i32") return 0;
  if (k === "bool") return false;
  if (k === "strings" || "repeated" in k) return [];
  return decodeMessage(k, new Uint8Array());
}

/** Decodes message s strictly: every field present in the result (zero when absent). */
export function decodeMessage<T>(s: Schema, b: Uint8Array): T {
  const out: Obj = {};
  const spec: Spec = {};
  const byNum = new Map<number, readonly [number, string, Kind]>();
  for (const f of s.fields) {
    out[f[1]] = zero(f[2]);
    spec[f[0]] = isVarint(f[2]) ? "varint" : "len";
    byNum.set(f[0], f);
  }
  read(b, s.name, spec, (f) => {
    const [, name, k] = byNum.get(f.num) as readonly [number, string, Kind];
    if (k === "string") out[name] = str(f);
    else if (k === "bytes") out[name] = f.bytes.slice();
    else if (k === "u64") out[name] = f.varint;
    else if (k === "i64") out[name] = BigInt.asIntN(64, f.varint);
    else if (k === "u32") out[name] = u32(f);
    else if (k === "i32") out[name] = i32(f);
    else if (k === "bool") out[name] = f.varint !== 0n;
    else if (k === "strings") (out[name] as string[]).push(str(f));
    else if ("repeated" in k) (out[name] as unknown[]).push(decodeMessage(k.repeated, f.bytes));
    else out[name] = decodeMessage(k, f.bytes);
  });
  return out as T;
}

// ---------------------------------------------------------------- Version

/** The transaction (height, index in block) that wrote a value; zero = none. */
export interface Version {
  height: bigint;
  txIndex: number;
}

export const ZERO_VERSION: Version = Object.freeze({ height: 0n, txIndex: 0 }) as Version;

export const VERSION: Schema = { name: "Version", fields: [[1, "height", "u64"], [2, "txIndex", "u32"]] };

export function encodeVersion(v: Version): Uint8Array {
  return encodeMessage(VERSION, v);
}

export function decodeVersion(b: Uint8Array): Version {
  return decodeMessage<Version>(VERSION, b);
}
