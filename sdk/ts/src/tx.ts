// Building and signing transactions.

import { compareBytes, equalBytes, toHex, toU64, utf8 } from "./bytes.js";
import type { Signer } from "./keys.js";
import { PUB_KEY_SIZE } from "./keys.js";
import {
  type BeginGtx,
  type GtxAnswer,
  type Op,
  type RegisterParticipant,
  type PolicyRule,
  type Signature,
  type TxBody,
  type U64,
  type Version,
  DecodeError,
  type Tx,
  ZERO_VERSION,
  decodeTx,
  decodeTxBody,
  encodeTx,
  encodeTxBody,
  parseVersion,
} from "./proto.js";
import { replayId, rotateProofBytes, signBytes, txHashHex } from "./sign.js";

/** A random non-zero uint64 nonce (as the Go client picks it). */
export function randomNonce(): bigint {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return new DataView(b.buffer).getBigUint64(0) | 1n;
}

/** Constructors for each op. Values given as strings are UTF-8 encoded. */
export const ops = {
  put(key: string, value: Uint8Array | string): Op {
    return { put: { key, value: typeof value === "string" ? utf8(value) : value } };
  },
  delete(key: string): Op {
    return { delete: { key } };
  },
  /** Aborts the tx with CONFLICT unless key's version is version ("0"/zero: key must not exist). */
  check(key: string, version: Version | string = ZERO_VERSION): Op {
    return { check: { key, version: typeof version === "string" ? parseVersion(version) : version } };
  },
  grant(subject: string, role: string, domain: string): Op {
    return { grant: { subject, role, domain } };
  },
  revoke(subject: string, role: string, domain: string): Op {
    return { revoke: { subject, role, domain } };
  },
  policy(rule: PolicyRule): Op {
    return { policy: rule };
  },
  addValidator(pubKey: Uint8Array, power: U64, org: string): Op {
    return { addValidator: { pubKey, power: BigInt(power), org } };
  },
  removeValidator(pubKey: Uint8Array): Op {
    return { removeValidator: { pubKey } };
  },
  addOrg(id: string, admins: string[]): Op {
    return { addOrg: { id, admins } };
  },
  removeOrg(id: string): Op {
    return { removeOrg: { id } };
  },
  /** Admits node nodeId (40 lowercase hex digits) of org to the P2P network; needs admin in org. */
  registerNode(nodeId: string, org: string): Op {
    return { registerNode: { nodeId, org } };
  },
  removeNode(nodeId: string, org: string): Op {
    return { removeNode: { nodeId, org } };
  },
  /** Governance: keep old versions for the last heights heights and/or seconds of block time (0, 0: every version). */
  setRetention(heights: U64, seconds: U64): Op {
    return { setRetention: { retainHeights: toU64(heights, "retain_heights"), retainSeconds: toU64(seconds, "retain_seconds") } };
  },
  /** Governance: anchor the audit chain at entry seq (hash: its 32-byte hash); prune below pruneBelow (0: nothing). */
  auditAnchor(seq: U64, hash: Uint8Array, pruneBelow: U64 = 0n): Op {
    return { auditAnchor: { seq: toU64(seq, "seq"), hash, pruneBelow: toU64(pruneBelow, "prune_below") } };
  },
  /** Governance: a snapshot every n heights (0: snapshots off). */
  setSnapshotInterval(n: U64): Op {
    return { setSnapshotInterval: { snapshotInterval: toU64(n, "snapshot_interval") } };
  },
  registerParticipant(p: RegisterParticipant): Op {
    return { registerParticipant: p };
  },
  removeParticipant(id: string): Op {
    return { removeParticipant: { id } };
  },
  beginGtx(g: BeginGtx): Op {
    return { beginGtx: g };
  },
  gtxAnswer(a: GtxAnswer): Op {
    return { gtxAnswer: a };
  },
  gtxDeadline(gid: string): Op {
    return { gtxDeadline: { gid } };
  },
  /**
   * Rotates the signing identity from oldPubKey to newKey; newKey proves
   * possession by signing types.RotateProofBytes. The tx must be signed by
   * the old key.
   */
  async rotateKey(chainId: string, oldPubKey: Uint8Array, newKey: Signer): Promise<Op> {
    const proof = await newKey.sign(rotateProofBytes(chainId, oldPubKey, newKey.pubKey));
    return { rotateKey: { newPubKey: newKey.pubKey, proof } };
  },
};

/**
 * Whether op changes the consortium (validators, orgs) or its chain rules
 * (retention, audit anchors, the snapshot interval): only txs of such ops
 * take several signatures (types.IsGovOp).
 */
export function isGovOp(op: Op): boolean {
  return "addValidator" in op || "removeValidator" in op || "addOrg" in op || "removeOrg" in op ||
    "setRetention" in op || "auditAnchor" in op || "setSnapshotInterval" in op;
}

/** A signed tx, ready to submit. */
export interface SignedTx {
  body: TxBody;
  /** The canonical body encoding the signatures cover. */
  bodyBytes: Uint8Array;
  /** The sign bytes (= the replay identity). */
  signBytes: Uint8Array;
  signatures: Signature[];
  /** The canonical envelope: what POST /v1/txs takes. */
  bytes: Uint8Array;
  /** SHA-256 of bytes, upper-case hex: the hash the gateway reports. */
  hash: string;
  /** Hex of the replay id: what the node remembers to refuse a replay. */
  replayId: string;
}

/** Fills the fields a body needs; nonce defaults to a random one. */
export function newTxBody(chainId: string, opList: Op[], o: { validUntilHeight: U64; nonce?: U64; memo?: string }): TxBody {
  return {
    chainId,
    nonce: o.nonce === undefined ? randomNonce() : toU64(o.nonce, "nonce"),
    validUntilHeight: toU64(o.validUntilHeight, "valid_until_height"),
    ops: opList,
    memo: o.memo ?? "",
  };
}

/**
 * Encodes body canonically and signs it with every signer. The signatures
 * are put in strictly ascending order of public key, as the node requires;
 * several signers are only accepted by the node for txs of governance ops.
 */
export async function signTx(body: TxBody, signers: Signer[]): Promise<SignedTx> {
  if (signers.length === 0) throw new Error("dstt: sign tx: no signer");
  const bodyBytes = encodeTxBody(body);
  const sb = signBytes(body.chainId, bodyBytes);
  const sigs: Signature[] = [];
  for (const s of signers) {
    if (s.pubKey.length !== PUB_KEY_SIZE) throw new Error("dstt: sign tx: a signer's public key is not 32 bytes");
    sigs.push({ pubKey: s.pubKey, signature: await s.sign(sb) });
  }
  sigs.sort((a, b) => compareBytes(a.pubKey, b.pubKey));
  for (let i = 1; i < sigs.length; i++) {
    if (equalBytes((sigs[i - 1] as Signature).pubKey, (sigs[i] as Signature).pubKey)) {
      throw new Error("dstt: sign tx: a signer appears twice");
    }
  }
  const bytes = encodeTx({ bodyBytes, signatures: sigs });
  return {
    body,
    bodyBytes,
    signBytes: sb,
    signatures: sigs,
    bytes,
    hash: txHashHex(bytes),
    replayId: toHex(replayId(body.chainId, bodyBytes)),
  };
}

/**
 * Decodes an envelope and its body, refusing what the node refuses as
 * ENCODING: bytes that are not the canonical encoding (unknown, repeated or
 * out-of-order fields, default values written, non-minimal varints) and
 * signatures not in strictly ascending order of public key.
 */
export function decodeTxCanonical(bytes: Uint8Array): { tx: Tx; body: TxBody } {
  const tx = decodeTx(bytes);
  if (!equalBytes(encodeTx(tx), bytes)) throw new DecodeError("dstt: envelope is not in canonical encoding");
  for (let i = 1; i < tx.signatures.length; i++) {
    if (compareBytes((tx.signatures[i - 1] as Signature).pubKey, (tx.signatures[i] as Signature).pubKey) >= 0) {
      throw new DecodeError("dstt: signatures must be in strictly ascending order of public key");
    }
  }
  const body = decodeTxBody(tx.bodyBytes);
  if (!equalBytes(encodeTxBody(body), tx.bodyBytes)) throw new DecodeError("dstt: body is not in canonical encoding");
  return { tx, body };
}
