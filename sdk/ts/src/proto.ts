// Canonical protobuf encoding of the messages in proto/dstt/v1/tx.proto,
// byte for byte what the node's gogoproto code produces (and what
// types.ValidateTx demands):
//
//   - fields in field-number order;
//   - proto3 defaults omitted: 0, false, "" and empty bytes are not written;
//   - EXCEPT the non-nullable embedded messages (Check.version, KV.version,
//     Write.version, HistoryRequest.before, History.next), which are always
//     written, as tag + length 0 when the version is zero;
//   - repeated non-nullable messages (Tx.signatures, TxBody.ops, History.versions,
//     TxResult.writes) and repeated strings (AddOrg.admins) write every element,
//     even an empty one;
//   - the set member of Op's oneof is always written, even when its message is
//     empty;
//   - minimal varints; int64 as two's complement (a negative value takes 10
//     bytes).
//
// The decoder reads the same messages and refuses what the node refuses:
// unknown fields, wrong wire types, truncated data. `isCanonical` checks that
// bytes re-encode to themselves.

import { concat, equalBytes, fromUtf8, toU64, utf8, uvarint } from "./bytes.js";

/** A uint64 as accepted on input: a bigint, a safe integer, or decimal text. */
export type U64 = bigint | number | string;

/** The transaction (height, index in block) that wrote a value; zero = none. */
export interface Version {
  height: bigint;
  txIndex: number;
}

export const ZERO_VERSION: Version = Object.freeze({ height: 0n, txIndex: 0 }) as Version;

export interface Put { key: string; value: Uint8Array }
export interface Delete { key: string }
export interface Check { key: string; version: Version }
export interface Grant { subject: string; role: string; domain: string }
export type Revoke = Grant;
export interface PolicyRule {
  subject: string;
  domain: string;
  object: string;
  action: string;
  deny?: boolean;
  remove?: boolean;
}
export interface RotateKey { newPubKey: Uint8Array; proof: Uint8Array }
export interface AddValidator { pubKey: Uint8Array; power: bigint; org: string }
export interface RemoveValidator { pubKey: Uint8Array }
export interface AddOrg { id: string; admins: string[] }
export interface RemoveOrg { id: string }

/** One step of a transaction: exactly one member set. */
export type Op =
  | { put: Put }
  | { delete: Delete }
  | { check: Check }
  | { grant: Grant }
  | { revoke: Revoke }
  | { policy: PolicyRule }
  | { rotateKey: RotateKey }
  | { addValidator: AddValidator }
  | { removeValidator: RemoveValidator }
  | { addOrg: AddOrg }
  | { removeOrg: RemoveOrg };

/** What a transaction asks for; applied all-or-nothing. */
export interface TxBody {
  chainId: string;
  nonce: bigint;
  validUntilHeight: bigint;
  ops: Op[];
  memo?: string;
}

/** One ed25519 signature over the tx's sign bytes. */
export interface Signature { pubKey: Uint8Array; signature: Uint8Array }

/** The signed envelope a client submits. */
export interface Tx { bodyBytes: Uint8Array; signatures: Signature[] }

export interface KV { key: string; value: Uint8Array; version: Version; deleted: boolean }
export interface HistoryRequest { key: string; before: Version; limit: number }
export interface History { key: string; versions: KV[]; next: Version }
export interface Write { key: string; version: Version; deleted: boolean }
export interface TxResult {
  height: bigint;
  txIndex: number;
  code: number;
  log: string;
  writes: Write[];
  signer: string;
}
export interface SignedQuery {
  path: string;
  data: Uint8Array;
  height: bigint;
  timeUnixMs: bigint;
  pubKey: Uint8Array;
  signature: Uint8Array;
  nonce: Uint8Array;
}

// ---------------------------------------------------------------- writer

const WT_VARINT = 0;
const WT_LEN = 2;

/** Builds one message's bytes; call field methods in field-number order. */
class Writer {
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

  /** int64 field (two's complement); omitted when 0. */
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

function checkU32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`dstt: ${what} ${n} is not a uint32`);
  return n;
}

export function encodeVersion(v: Version): Uint8Array {
  const w = new Writer();
  w.uint(1, toU64(v.height, "version height"));
  w.uint(2, checkU32(v.txIndex, "version tx_index"));
  return w.finish();
}

function encodeGrant(g: Grant): Uint8Array {
  const w = new Writer();
  w.string(1, g.subject);
  w.string(2, g.role);
  w.string(3, g.domain);
  return w.finish();
}

/** The encoding of one Op message. */
export function encodeOp(op: Op): Uint8Array {
  const keys = Object.keys(op);
  if (keys.length !== 1) throw new Error(`dstt: an op sets exactly one member, got ${JSON.stringify(keys)}`);
  const w = new Writer();
  const inner = new Writer();
  let field: number;
  if ("put" in op) {
    field = 1;
    inner.string(1, op.put.key);
    inner.bytes(2, op.put.value);
  } else if ("delete" in op) {
    field = 2;
    inner.string(1, op.delete.key);
  } else if ("check" in op) {
    field = 3;
    inner.string(1, op.check.key);
    inner.always(2, encodeVersion(op.check.version));
  } else if ("grant" in op) {
    return (w.always(4, encodeGrant(op.grant)), w.finish());
  } else if ("revoke" in op) {
    return (w.always(5, encodeGrant(op.revoke)), w.finish());
  } else if ("policy" in op) {
    field = 6;
    const p = op.policy;
    inner.string(1, p.subject);
    inner.string(2, p.domain);
    inner.string(3, p.object);
    inner.string(4, p.action);
    inner.bool(5, p.deny);
    inner.bool(6, p.remove);
  } else if ("rotateKey" in op) {
    field = 7;
    inner.bytes(1, op.rotateKey.newPubKey);
    inner.bytes(2, op.rotateKey.proof);
  } else if ("addValidator" in op) {
    field = 8;
    inner.bytes(1, op.addValidator.pubKey);
    inner.int64(2, BigInt(op.addValidator.power));
    inner.string(3, op.addValidator.org);
  } else if ("removeValidator" in op) {
    field = 9;
    inner.bytes(1, op.removeValidator.pubKey);
  } else if ("addOrg" in op) {
    field = 10;
    inner.string(1, op.addOrg.id);
    for (const a of op.addOrg.admins) inner.always(2, utf8(a));
  } else if ("removeOrg" in op) {
    field = 11;
    inner.string(1, op.removeOrg.id);
  } else {
    throw new Error(`dstt: unknown op ${JSON.stringify(keys)}`);
  }
  w.always(field, inner.finish());
  return w.finish();
}

/** The canonical encoding of a TxBody: the bytes every signature covers. */
export function encodeTxBody(b: TxBody): Uint8Array {
  const w = new Writer();
  w.string(1, b.chainId);
  w.uint(2, toU64(b.nonce, "nonce"));
  w.uint(3, toU64(b.validUntilHeight, "valid_until_height"));
  for (const op of b.ops) w.always(4, encodeOp(op));
  w.string(5, b.memo);
  return w.finish();
}

export function encodeSignature(s: Signature): Uint8Array {
  const w = new Writer();
  w.bytes(1, s.pubKey);
  w.bytes(2, s.signature);
  return w.finish();
}

/** The canonical encoding of a Tx envelope (the bytes submitted). */
export function encodeTx(tx: Tx): Uint8Array {
  const w = new Writer();
  w.bytes(1, tx.bodyBytes);
  for (const s of tx.signatures) w.always(2, encodeSignature(s));
  return w.finish();
}

/** The encoding of a HistoryRequest: `before` is written even when zero. */
export function encodeHistoryRequest(r: HistoryRequest): Uint8Array {
  const w = new Writer();
  w.string(1, r.key);
  w.always(2, encodeVersion(r.before));
  w.uint(3, checkU32(r.limit, "limit"));
  return w.finish();
}

export function encodeSignedQuery(q: SignedQuery): Uint8Array {
  const w = new Writer();
  w.string(1, q.path);
  w.bytes(2, q.data);
  w.uint(3, toU64(q.height, "height"));
  w.int64(4, BigInt(q.timeUnixMs));
  w.bytes(5, q.pubKey);
  w.bytes(6, q.signature);
  w.bytes(7, q.nonce);
  return w.finish();
}

export function encodeKV(kv: KV): Uint8Array {
  const w = new Writer();
  w.string(1, kv.key);
  w.bytes(2, kv.value);
  w.always(3, encodeVersion(kv.version));
  w.bool(4, kv.deleted);
  return w.finish();
}

export function encodeHistory(h: History): Uint8Array {
  const w = new Writer();
  w.string(1, h.key);
  for (const kv of h.versions) w.always(2, encodeKV(kv));
  w.always(3, encodeVersion(h.next));
  return w.finish();
}

function encodeWrite(x: Write): Uint8Array {
  const w = new Writer();
  w.string(1, x.key);
  w.always(2, encodeVersion(x.version));
  w.bool(3, x.deleted);
  return w.finish();
}

export function encodeTxResult(r: TxResult): Uint8Array {
  const w = new Writer();
  w.uint(1, toU64(r.height, "height"));
  w.uint(2, checkU32(r.txIndex, "tx_index"));
  w.uint(3, checkU32(r.code, "code"));
  w.string(4, r.log);
  for (const x of r.writes) w.always(5, encodeWrite(x));
  w.string(6, r.signer);
  return w.finish();
}

// ---------------------------------------------------------------- reader

/** Thrown for bytes that are not a valid encoding of the message. */
export class DecodeError extends Error {
  override name = "DecodeError";
}

type Field = { num: number; wt: number; varint: bigint; bytes: Uint8Array };

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

type Spec = Record<number, "varint" | "len">;

/** Reads fields of a message whose field numbers and wire types are spec. */
function read(b: Uint8Array, what: string, spec: Spec, each: (f: Field) => void): void {
  for (const f of fields(b)) {
    const want = spec[f.num];
    if (want === undefined) throw new DecodeError(`dstt: ${what}: unknown field ${f.num}`);
    if ((want === "varint") !== (f.wt === WT_VARINT)) throw new DecodeError(`dstt: ${what}: field ${f.num}: wrong wire type`);
    each(f);
  }
}

function str(f: Field): string {
  try {
    return fromUtf8(f.bytes);
  } catch {
    throw new DecodeError(`dstt: field ${f.num}: invalid UTF-8`);
  }
}

function u32(f: Field): number {
  if (f.varint > 0xffffffffn) throw new DecodeError(`dstt: field ${f.num}: overflows uint32`);
  return Number(f.varint);
}

export function decodeVersion(b: Uint8Array): Version {
  const v: Version = { height: 0n, txIndex: 0 };
  read(b, "Version", { 1: "varint", 2: "varint" }, (f) => {
    if (f.num === 1) v.height = f.varint;
    else v.txIndex = u32(f);
  });
  return v;
}

function decodeGrant(b: Uint8Array): Grant {
  const g: Grant = { subject: "", role: "", domain: "" };
  read(b, "Grant", { 1: "len", 2: "len", 3: "len" }, (f) => {
    if (f.num === 1) g.subject = str(f);
    else if (f.num === 2) g.role = str(f);
    else g.domain = str(f);
  });
  return g;
}

export function decodeOp(b: Uint8Array): Op {
  let op: Op | undefined;
  const spec: Spec = {};
  for (let n = 1; n <= 11; n++) spec[n] = "len";
  read(b, "Op", spec, (f) => {
    const m = f.bytes;
    switch (f.num) {
      case 1: {
        const p: Put = { key: "", value: new Uint8Array() };
        read(m, "Put", { 1: "len", 2: "len" }, (g) => (g.num === 1 ? (p.key = str(g)) : (p.value = g.bytes.slice())));
        op = { put: p };
        break;
      }
      case 2: {
        const d: Delete = { key: "" };
        read(m, "Delete", { 1: "len" }, (g) => (d.key = str(g)));
        op = { delete: d };
        break;
      }
      case 3: {
        const c: Check = { key: "", version: { ...ZERO_VERSION } };
        read(m, "Check", { 1: "len", 2: "len" }, (g) => (g.num === 1 ? (c.key = str(g)) : (c.version = decodeVersion(g.bytes))));
        op = { check: c };
        break;
      }
      case 4:
        op = { grant: decodeGrant(m) };
        break;
      case 5:
        op = { revoke: decodeGrant(m) };
        break;
      case 6: {
        const p: PolicyRule = { subject: "", domain: "", object: "", action: "", deny: false, remove: false };
        read(m, "PolicyRule", { 1: "len", 2: "len", 3: "len", 4: "len", 5: "varint", 6: "varint" }, (g) => {
          if (g.num === 1) p.subject = str(g);
          else if (g.num === 2) p.domain = str(g);
          else if (g.num === 3) p.object = str(g);
          else if (g.num === 4) p.action = str(g);
          else if (g.num === 5) p.deny = g.varint !== 0n;
          else p.remove = g.varint !== 0n;
        });
        op = { policy: p };
        break;
      }
      case 7: {
        const r: RotateKey = { newPubKey: new Uint8Array(), proof: new Uint8Array() };
        read(m, "RotateKey", { 1: "len", 2: "len" }, (g) => (g.num === 1 ? (r.newPubKey = g.bytes.slice()) : (r.proof = g.bytes.slice())));
        op = { rotateKey: r };
        break;
      }
      case 8: {
        const a: AddValidator = { pubKey: new Uint8Array(), power: 0n, org: "" };
        read(m, "AddValidator", { 1: "len", 2: "varint", 3: "len" }, (g) => {
          if (g.num === 1) a.pubKey = g.bytes.slice();
          else if (g.num === 2) a.power = BigInt.asIntN(64, g.varint);
          else a.org = str(g);
        });
        op = { addValidator: a };
        break;
      }
      case 9: {
        const r: RemoveValidator = { pubKey: new Uint8Array() };
        read(m, "RemoveValidator", { 1: "len" }, (g) => (r.pubKey = g.bytes.slice()));
        op = { removeValidator: r };
        break;
      }
      case 10: {
        const a: AddOrg = { id: "", admins: [] };
        read(m, "AddOrg", { 1: "len", 2: "len" }, (g) => (g.num === 1 ? (a.id = str(g)) : a.admins.push(str(g))));
        op = { addOrg: a };
        break;
      }
      default: {
        const r: RemoveOrg = { id: "" };
        read(m, "RemoveOrg", { 1: "len" }, (g) => (r.id = str(g)));
        op = { removeOrg: r };
      }
    }
  });
  if (!op) throw new DecodeError("dstt: Op: no member set");
  return op;
}

export function decodeTxBody(b: Uint8Array): TxBody {
  const body: TxBody = { chainId: "", nonce: 0n, validUntilHeight: 0n, ops: [], memo: "" };
  read(b, "TxBody", { 1: "len", 2: "varint", 3: "varint", 4: "len", 5: "len" }, (f) => {
    if (f.num === 1) body.chainId = str(f);
    else if (f.num === 2) body.nonce = f.varint;
    else if (f.num === 3) body.validUntilHeight = f.varint;
    else if (f.num === 4) body.ops.push(decodeOp(f.bytes));
    else body.memo = str(f);
  });
  return body;
}

export function decodeTx(b: Uint8Array): Tx {
  const tx: Tx = { bodyBytes: new Uint8Array(), signatures: [] };
  read(b, "Tx", { 1: "len", 2: "len" }, (f) => {
    if (f.num === 1) {
      tx.bodyBytes = f.bytes.slice();
      return;
    }
    const s: Signature = { pubKey: new Uint8Array(), signature: new Uint8Array() };
    read(f.bytes, "Signature", { 1: "len", 2: "len" }, (g) => (g.num === 1 ? (s.pubKey = g.bytes.slice()) : (s.signature = g.bytes.slice())));
    tx.signatures.push(s);
  });
  return tx;
}

export function decodeKV(b: Uint8Array): KV {
  const kv: KV = { key: "", value: new Uint8Array(), version: { ...ZERO_VERSION }, deleted: false };
  read(b, "KV", { 1: "len", 2: "len", 3: "len", 4: "varint" }, (f) => {
    if (f.num === 1) kv.key = str(f);
    else if (f.num === 2) kv.value = f.bytes.slice();
    else if (f.num === 3) kv.version = decodeVersion(f.bytes);
    else kv.deleted = f.varint !== 0n;
  });
  return kv;
}

export function decodeHistoryRequest(b: Uint8Array): HistoryRequest {
  const r: HistoryRequest = { key: "", before: { ...ZERO_VERSION }, limit: 0 };
  read(b, "HistoryRequest", { 1: "len", 2: "len", 3: "varint" }, (f) => {
    if (f.num === 1) r.key = str(f);
    else if (f.num === 2) r.before = decodeVersion(f.bytes);
    else r.limit = u32(f);
  });
  return r;
}

export function decodeHistory(b: Uint8Array): History {
  const h: History = { key: "", versions: [], next: { ...ZERO_VERSION } };
  read(b, "History", { 1: "len", 2: "len", 3: "len" }, (f) => {
    if (f.num === 1) h.key = str(f);
    else if (f.num === 2) h.versions.push(decodeKV(f.bytes));
    else h.next = decodeVersion(f.bytes);
  });
  return h;
}

export function decodeTxResult(b: Uint8Array): TxResult {
  const r: TxResult = { height: 0n, txIndex: 0, code: 0, log: "", writes: [], signer: "" };
  read(b, "TxResult", { 1: "varint", 2: "varint", 3: "varint", 4: "len", 5: "len", 6: "len" }, (f) => {
    if (f.num === 1) r.height = f.varint;
    else if (f.num === 2) r.txIndex = u32(f);
    else if (f.num === 3) r.code = u32(f);
    else if (f.num === 4) r.log = str(f);
    else if (f.num === 5) {
      const w: Write = { key: "", version: { ...ZERO_VERSION }, deleted: false };
      read(f.bytes, "Write", { 1: "len", 2: "len", 3: "varint" }, (g) => {
        if (g.num === 1) w.key = str(g);
        else if (g.num === 2) w.version = decodeVersion(g.bytes);
        else w.deleted = g.varint !== 0n;
      });
      r.writes.push(w);
    } else r.signer = str(f);
  });
  return r;
}

export function decodeSignedQuery(b: Uint8Array): SignedQuery {
  const q: SignedQuery = {
    path: "", data: new Uint8Array(), height: 0n, timeUnixMs: 0n,
    pubKey: new Uint8Array(), signature: new Uint8Array(), nonce: new Uint8Array(),
  };
  read(b, "SignedQuery", { 1: "len", 2: "len", 3: "varint", 4: "varint", 5: "len", 6: "len", 7: "len" }, (f) => {
    if (f.num === 1) q.path = str(f);
    else if (f.num === 2) q.data = f.bytes.slice();
    else if (f.num === 3) q.height = f.varint;
    else if (f.num === 4) q.timeUnixMs = BigInt.asIntN(64, f.varint);
    else if (f.num === 5) q.pubKey = f.bytes.slice();
    else if (f.num === 6) q.signature = f.bytes.slice();
    else q.nonce = f.bytes.slice();
  });
  return q;
}

/** Whether b decodes with decode and re-encodes with encode to exactly b. */
export function isCanonical<T>(b: Uint8Array, decode: (b: Uint8Array) => T, encode: (m: T) => Uint8Array): boolean {
  try {
    return equalBytes(encode(decode(b)), b);
  } catch {
    return false;
  }
}

/** Text form of a version: "HEIGHT.INDEX", or "0" for the zero version. */
export function versionText(v: Version): string {
  return v.height === 0n && v.txIndex === 0 ? "0" : `${v.height}.${v.txIndex}`;
}

/** Parses a version's text form ("12.0", or "0" for none). */
export function parseVersion(s: string): Version {
  const t = s.trim();
  if (t === "0") return { ...ZERO_VERSION };
  const m = /^(\d+)\.(\d+)$/.exec(t);
  if (!m) throw new Error(`dstt: bad version ${JSON.stringify(s)} (want HEIGHT.INDEX, e.g. 12.0, or 0 for none)`);
  const height = toU64(m[1] as string, "version height");
  const txIndex = Number(m[2]);
  if (height === 0n || txIndex > 0xffffffff) throw new Error(`dstt: bad version ${JSON.stringify(s)}`);
  return { height, txIndex };
}
