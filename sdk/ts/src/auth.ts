// Signed reads. A REST read carries
//
//   Authorization: Dstt-Query pubkey=<b64>, time=<unix ms>, nonce=<b64>, sig=<b64>
//
// where sig is the reader's ed25519 signature over querySignBytes(chain id,
// path, data, height, time, nonce) of the ABCI query the request stands for
// (transport/api/auth.go):
//
//   GET /v1/kv/{key}?height=H    "/kv/get",      UTF-8 key,                     H
//   GET /v1/kv/{key}/history     "/kv/history",  encoded HistoryRequest,        0
//   GET /v1/txs/{hash}           "/tx",          the 32 hash bytes,             0
//   GET /v1/events?prefix=P      "/rbac/check",  JSON {"subject": reader address,
//                                                 "action":"read","key":P},     0
//
// A header is good for one request: the node refuses a signature it has
// seen, and a time outside its skew window (30 s).

import { fromBase64, fromHex, toBase64, utf8 } from "./bytes.js";
import type { Signer } from "./keys.js";
import { address } from "./keys.js";
import { type Version, ZERO_VERSION, encodeHistoryRequest, encodeSignedQuery } from "./proto.js";
import { querySignBytes } from "./sign.js";

export const AUTH_SCHEME = "Dstt-Query";
export const QUERY_NONCE_SIZE = 16;

/** ABCI query paths (abci/app.go). */
export const QueryPath = {
  get: "/kv/get",
  history: "/kv/history",
  tx: "/tx",
  check: "/rbac/check",
  signed: "/signed",
} as const;

/** The ABCI query a REST read stands for. */
export interface InnerQuery {
  path: string;
  data: Uint8Array;
  height: bigint;
}

/** A signed read: what the Authorization header carries. */
export interface SignedRead {
  pubKey: Uint8Array;
  timeUnixMs: bigint;
  nonce: Uint8Array;
  signature: Uint8Array;
}

/** Inner query of GET /v1/kv/{key}?height=H (0 = latest). */
export function kvGetQuery(key: string, height: bigint | number = 0n): InnerQuery {
  return { path: QueryPath.get, data: utf8(key), height: BigInt(height) };
}

/** Inner query of GET /v1/kv/{key}/history?before=V&limit=N. */
export function historyQuery(key: string, before: Version = ZERO_VERSION, limit = 0): InnerQuery {
  return { path: QueryPath.history, data: encodeHistoryRequest({ key, before, limit }), height: 0n };
}

/** Inner query of GET /v1/txs/{hash}. */
export function txQuery(hashHex: string): InnerQuery {
  return { path: QueryPath.tx, data: fromHex(hashHex), height: 0n };
}

/** Inner query of GET /v1/events?prefix=P for the reader with this address. */
export function eventsQuery(readerAddress: string, prefix: string): InnerQuery {
  const json = `{"subject":${goJSONString(readerAddress)},"action":"read","key":${goJSONString(prefix)}}`;
  return { path: QueryPath.check, data: utf8(json), height: 0n };
}

/**
 * A JSON string exactly as Go's encoding/json writes it: like
 * JSON.stringify, but with <, >, &, U+2028 and U+2029 escaped as \u00XX /
 * \u20XX and lone surrogates replaced by U+FFFD.
 */
export function goJSONString(s: string): string {
  const wellFormed = s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD");
  return JSON.stringify(wellFormed).replace(/[<>&\u2028\u2029]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
}

/** 16 random bytes. */
export function randomQueryNonce(): Uint8Array {
  const n = new Uint8Array(QUERY_NONCE_SIZE);
  crypto.getRandomValues(n);
  return n;
}

/**
 * Signs the inner query q for chainId. timeUnixMs defaults to now, nonce to
 * 16 fresh random bytes (pass them only to reproduce a test vector).
 */
export async function signRead(
  signer: Signer,
  chainId: string,
  q: InnerQuery,
  opts: { timeUnixMs?: bigint | number; nonce?: Uint8Array } = {},
): Promise<SignedRead> {
  const timeUnixMs = BigInt(opts.timeUnixMs ?? Date.now());
  const nonce = opts.nonce ?? randomQueryNonce();
  if (nonce.length !== QUERY_NONCE_SIZE) throw new Error(`dstt: a query nonce is ${QUERY_NONCE_SIZE} bytes`);
  const signature = await signer.sign(querySignBytes(chainId, q.path, q.data, q.height, timeUnixMs, nonce));
  return { pubKey: signer.pubKey, timeUnixMs, nonce, signature };
}

/** The Authorization header value of a signed read. */
export function authorizationHeader(sr: SignedRead): string {
  return `${AUTH_SCHEME} pubkey=${toBase64(sr.pubKey)}, time=${sr.timeUnixMs}, nonce=${toBase64(sr.nonce)}, sig=${toBase64(sr.signature)}`;
}

/** Parses an Authorization header value (the inverse of authorizationHeader). */
export function parseAuthorization(h: string): SignedRead {
  const t = h.trim();
  const sp = t.indexOf(" ");
  if (sp < 0 || t.slice(0, sp).toLowerCase() !== AUTH_SCHEME.toLowerCase()) throw new Error("dstt: not a Dstt-Query header");
  const kv = new Map<string, string>();
  for (const part of t.slice(sp + 1).split(",")) {
    const p = part.trim();
    const eq = p.indexOf("=");
    if (eq < 0 || kv.has(p.slice(0, eq))) throw new Error(`dstt: bad Authorization parameter ${JSON.stringify(p)}`);
    kv.set(p.slice(0, eq), p.slice(eq + 1));
  }
  const get = (k: string): string => {
    const v = kv.get(k);
    if (v === undefined) throw new Error(`dstt: Authorization lacks ${k}`);
    return v;
  };
  return { pubKey: fromBase64(get("pubkey")), timeUnixMs: BigInt(get("time")), nonce: fromBase64(get("nonce")), signature: fromBase64(get("sig")) };
}

/** The SignedQuery message the gateway builds from a header and the inner query. */
export function signedQueryBytes(sr: SignedRead, q: InnerQuery): Uint8Array {
  return encodeSignedQuery({ path: q.path, data: q.data, height: q.height, timeUnixMs: sr.timeUnixMs, pubKey: sr.pubKey, signature: sr.signature, nonce: sr.nonce });
}

/** The reader's address (for eventsQuery). */
export function readerAddress(s: Signer): string {
  return address(s.pubKey);
}
