// Canonical protobuf encoding of the messages in proto/dstt/v1/tx.proto
// (the ops and their messages, with those of the sibling .proto files, are in
// ops.ts; the wire primitives in codec.ts), byte for byte what the node's gogoproto code produces (and what
// types.ValidateTx demands):
//
//   - fields in field-number order;
//   - proto3 defaults omitted: 0, false, "" and empty bytes are not written;
//   - EXCEPT the non-nullable embedded messages (Check.version, KV.version,
//     Write.version, HistoryRequest.before, History.next), which are always
//     written, as tag + length 0 when the version is zero;
//   - repeated non-nullable messages (Tx.signatures, TxBody.ops, History.versions,
//     TxResult.writes, BeginGtx.branches, BeginGtx.commit_writes) and repeated
//     strings (AddOrg.admins) write every element, even an empty one;
//   - the set member of Op's oneof is always written, even when its message is
//     empty;
//   - minimal varints; int64, int32 and enums as two's complement (a negative
//     value takes 10 bytes).
//
// The decoder reads the same messages and refuses what the node refuses:
// unknown fields, wrong wire types, truncated data. `isCanonical` checks that
// bytes re-encode to themselves.

import { equalBytes, toU64, utf8 } from "./bytes.js";
import { DecodeError, type Version, Writer, ZERO_VERSION, checkU32, decodeVersion, encodeVersion, read, str, u32 } from "./codec.js";
import { type Op, decodeOp, encodeOp } from "./ops.js";

export { DecodeError, type U64, type Version, ZERO_VERSION, decodeVersion, encodeVersion } from "./codec.js";
export * from "./ops.js";

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
