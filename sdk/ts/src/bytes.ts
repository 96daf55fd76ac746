// Byte helpers: hex, base64, UTF-8, concatenation and the unsigned varint
// (Go's binary.PutUvarint, protobuf's varint) every sign-bytes function
// length-prefixes with. Plain ECMAScript (no Buffer), so the SDK runs in
// browsers too.

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** UTF-8 bytes of s. */
export function utf8(s: string): Uint8Array {
  return enc.encode(s);
}

/** Decodes UTF-8, throwing on invalid input. */
export function fromUtf8(b: Uint8Array): string {
  return dec.decode(b);
}

/** Whether b is valid UTF-8. */
export function isUtf8(b: Uint8Array): boolean {
  try {
    dec.decode(b);
    return true;
  } catch {
    return false;
  }
}

/** Lower-case hex of b. */
export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += HEX_DIGITS[x] as string;
  return s;
}

const HEX_DIGITS = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Decodes hex (either case); throws on odd length or a non-hex digit. */
export function fromHex(s: string): Uint8Array {
  if (s.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(s)) {
    throw new Error(`dstt: bad hex ${JSON.stringify(s.slice(0, 20))}`);
  }
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Standard, padded base64 of b. */
export function toBase64(b: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < b.length; i += 0x8000) bin += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(bin);
}

/** Decodes standard base64. */
export function fromBase64(s: string): Uint8Array {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.replace(/=+$/, "").length % 4 === 1) {
    throw new Error("dstt: bad base64");
  }
  const bin = atob(s.replace(/=+$/, ""));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Whether a and b hold the same bytes. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Orders byte arrays lexicographically (Go's bytes.Compare). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

const MAX_U64 = (1n << 64n) - 1n;

/** The unsigned varint (LEB128) of n, 0 <= n < 2^64. */
export function uvarint(n: bigint | number): Uint8Array {
  let v = BigInt(n);
  if (v < 0n || v > MAX_U64) throw new RangeError(`dstt: uvarint out of range: ${v}`);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return new Uint8Array(out);
}

/** 8-byte big-endian encoding of n (as Go's binary.BigEndian.PutUint64). */
export function uint64BE(n: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, n));
  return out;
}

/** Parses a uint64 given as bigint, number or decimal string. */
export function toU64(v: bigint | number | string, what = "value"): bigint {
  let n: bigint;
  try {
    n = BigInt(v);
  } catch {
    throw new RangeError(`dstt: ${what} ${JSON.stringify(v)} is not an integer`);
  }
  if (n < 0n || n > MAX_U64) throw new RangeError(`dstt: ${what} ${n} is not a uint64`);
  return n;
}
