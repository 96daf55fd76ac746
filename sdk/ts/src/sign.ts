// Sign bytes: what every signature in dstt covers. Each is a SHA-256 over a
// domain tag (so a signature for one purpose is useless for any other),
// then uvarint-length-prefixed fields. See docs/WIRE.md.

import { sha256 } from "@noble/hashes/sha2.js";
import { concat, toHex, uint64BE, utf8, uvarint } from "./bytes.js";

const TX_DOMAIN = utf8("dstt/tx/v1\x00");
const QUERY_DOMAIN = utf8("dstt/query/v2\x00");
const ROTATE_DOMAIN = utf8("dstt/rotate/v1\x00");

function prefixed(b: Uint8Array): Uint8Array {
  return concat(uvarint(b.length), b);
}

/**
 * The bytes every signer of a tx signs: SHA-256("dstt/tx/v1\0" ||
 * uvarint(len(chainId)) || chainId || bodyBytes), the body bytes exactly as
 * sent (never re-encoded).
 */
export function signBytes(chainId: string, bodyBytes: Uint8Array): Uint8Array {
  return sha256(concat(TX_DOMAIN, prefixed(utf8(chainId)), bodyBytes));
}

/**
 * A tx's replay identity: its sign bytes. Two envelopes around the same
 * body share it, so only one of them can ever commit.
 */
export function replayId(chainId: string, bodyBytes: Uint8Array): Uint8Array {
  return signBytes(chainId, bodyBytes);
}

/** SHA-256 of the envelope bytes, as CometBFT computes it. */
export function txHash(txBytes: Uint8Array): Uint8Array {
  return sha256(txBytes);
}

/** txHash in upper-case hex, the form the gateway reports. */
export function txHashHex(txBytes: Uint8Array): string {
  return toHex(txHash(txBytes)).toUpperCase();
}

/**
 * What a reader signs for a signed read: SHA-256("dstt/query/v2\0" ||
 * for each of chainId, path, data, nonce: uvarint(len) || bytes ||
 * height (8 bytes BE) || timeUnixMs (8 bytes BE, two's complement)).
 */
export function querySignBytes(
  chainId: string,
  path: string,
  data: Uint8Array,
  height: bigint,
  timeUnixMs: bigint,
  nonce: Uint8Array,
): Uint8Array {
  return sha256(
    concat(
      QUERY_DOMAIN,
      prefixed(utf8(chainId)),
      prefixed(utf8(path)),
      prefixed(data),
      prefixed(nonce),
      uint64BE(height),
      uint64BE(timeUnixMs),
    ),
  );
}

/**
 * What the new key signs in a RotateKey op to prove possession:
 * SHA-256("dstt/rotate/v1\0" || for each of chainId, oldPubKey, newPubKey:
 * uvarint(len) || bytes).
 */
export function rotateProofBytes(chainId: string, oldPubKey: Uint8Array, newPubKey: Uint8Array): Uint8Array {
  return sha256(concat(ROTATE_DOMAIN, prefixed(utf8(chainId)), prefixed(oldPubKey), prefixed(newPubKey)));
}

/** SHA-256 (re-exported for callers that need it). */
export { sha256 };
