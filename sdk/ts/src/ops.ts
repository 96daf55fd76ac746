// The ops of a transaction: every member of the Op oneof of
// proto/dstt/v1/tx.proto and the messages they carry (tx.proto,
// retention.proto, audit_anchor.proto, snapshot_interval.proto, gtx.proto),
// with their canonical encoding (the rules in proto.ts's header). Each
// message is a field table (Schema) that both the encoder and the decoder
// read, so a message has one encoding.

import { DecodeError, type Schema, VERSION, type Version, Writer, decodeMessage, encodeMessage, read } from "./codec.js";

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
/** Admits a node (its CometBFT node ID: 40 lowercase hex digits) of org to the P2P network. */
export interface RegisterNode { nodeId: string; org: string }
/** Takes a registered node of org out of the P2P network. */
export interface RemoveNode { nodeId: string; org: string }
/** Governance: keep old versions for the last retainHeights heights and/or retainSeconds of block time (0 and 0: every version). */
export interface SetRetention { retainHeights: bigint; retainSeconds: bigint }
/**
 * The message AuditAnchor (audit_anchor.proto), named apart from the REST
 * gateway's audit anchor (explorer.ts). Governance: an export holds the
 * audit chain up to entry seq (whose hash is hash); prune the entries below
 * pruneBelow (0: none).
 */
export interface AuditAnchorOp { seq: bigint; hash: Uint8Array; pruneBelow: bigint }
/** Governance: the chain param snapshot_interval (0: snapshots off). */
export interface SetSnapshotInterval { snapshotInterval: bigint }
/** Registers (or updates) a gtx participant of org: the key that signs its answers, and its endpoint. */
export interface RegisterParticipant { id: string; org: string; pubKey: Uint8Array; endpoint: string }
export interface RemoveParticipant { id: string }
/** One branch of a gtx: saga payloads (action, compensate) or TCC payloads (try, confirm, cancel). */
export interface GtxBranch {
  participant: string;
  action?: Uint8Array;
  compensate?: Uint8Array;
  try?: Uint8Array;
  confirm?: Uint8Array;
  cancel?: Uint8Array;
}
/** A ledger write a gtx applies when it commits. */
export interface GtxWrite { key: string; value: Uint8Array; delete?: boolean }
/** Starts gtx gid; mode is a GtxMode, deadlineUnixMs a block time. */
export interface BeginGtx {
  gid: string;
  mode: number;
  branches: GtxBranch[];
  deadlineUnixMs: bigint;
  commitWrites: GtxWrite[];
}
/** A participant's signed answer to one awaited step; op is a GtxOp, status a GtxStatus. */
export interface GtxAnswer {
  gid: string;
  branch: number;
  op: number;
  attempt: number;
  status: number;
  result: Uint8Array;
  pubKey: Uint8Array;
  signature: Uint8Array;
}
/** Applies gtx gid's deadline at the block's time. */
export interface GtxDeadline { gid: string }

/** GtxMode (gtx.proto). */
export const GtxMode = { UNSPECIFIED: 0, SAGA: 1, TCC: 2 } as const;
/** GtxOp (gtx.proto). */
export const GtxOp = { UNSPECIFIED: 0, ACTION: 1, COMPENSATE: 2, TRY: 3, CONFIRM: 4, CANCEL: 5 } as const;
/** GtxStatus (gtx.proto). */
export const GtxStatus = { UNSPECIFIED: 0, SUCCEEDED: 1, FAILED: 2 } as const;

/** The message each member of the Op oneof carries. */
export interface OpMembers {
  put: Put;
  delete: Delete;
  check: Check;
  grant: Grant;
  revoke: Revoke;
  policy: PolicyRule;
  rotateKey: RotateKey;
  addValidator: AddValidator;
  removeValidator: RemoveValidator;
  addOrg: AddOrg;
  removeOrg: RemoveOrg;
  registerNode: RegisterNode;
  removeNode: RemoveNode;
  setRetention: SetRetention;
  auditAnchor: AuditAnchorOp;
  setSnapshotInterval: SetSnapshotInterval;
  registerParticipant: RegisterParticipant;
  removeParticipant: RemoveParticipant;
  beginGtx: BeginGtx;
  gtxAnswer: GtxAnswer;
  gtxDeadline: GtxDeadline;
}

export type OpName = keyof OpMembers;

/** One step of a transaction: exactly one member set, e.g. `{ put: { key, value } }`. */
export type Op = { [K in OpName]: Pick<OpMembers, K> }[OpName];

const msg = (name: string, ...fields: Schema["fields"]): Schema => ({ name, fields });
const GRANT_FIELDS = [[1, "subject", "string"], [2, "role", "string"], [3, "domain", "string"]] as const;
const NODE_FIELDS = [[1, "nodeId", "string"], [2, "org", "string"]] as const;
const GTX_BRANCH = msg("GtxBranch", [1, "participant", "string"], [2, "action", "bytes"], [3, "compensate", "bytes"], [4, "try", "bytes"], [5, "confirm", "bytes"], [6, "cancel", "bytes"]);
const GTX_WRITE = msg("GtxWrite", [1, "key", "string"], [2, "value", "bytes"], [3, "delete", "bool"]);

/** The Op oneof: field number, member, message. */
const OP_FIELDS: readonly (readonly [number, OpName, Schema])[] = [
  [1, "put", msg("Put", [1, "key", "string"], [2, "value", "bytes"])],
  [2, "delete", msg("Delete", [1, "key", "string"])],
  [3, "check", msg("Check", [1, "key", "string"], [2, "version", VERSION])],
  [4, "grant", msg("Grant", ...GRANT_FIELDS)],
  [5, "revoke", msg("Revoke", ...GRANT_FIELDS)],
  [6, "policy", msg("PolicyRule", [1, "subject", "string"], [2, "domain", "string"], [3, "object", "string"], [4, "action", "string"], [5, "deny", "bool"], [6, "remove", "bool"])],
  [7, "rotateKey", msg("RotateKey", [1, "newPubKey", "bytes"], [2, "proof", "bytes"])],
  [8, "addValidator", msg("AddValidator", [1, "pubKey", "bytes"], [2, "power", "i64"], [3, "org", "string"])],
  [9, "removeValidator", msg("RemoveValidator", [1, "pubKey", "bytes"])],
  [10, "addOrg", msg("AddOrg", [1, "id", "string"], [2, "admins", "strings"])],
  [11, "removeOrg", msg("RemoveOrg", [1, "id", "string"])],
  [12, "registerNode", msg("RegisterNode", ...NODE_FIELDS)],
  [13, "removeNode", msg("RemoveNode", ...NODE_FIELDS)],
  [14, "setRetention", msg("SetRetention", [1, "retainHeights", "u64"], [2, "retainSeconds", "u64"])],
  [15, "auditAnchor", msg("AuditAnchor", [1, "seq", "u64"], [2, "hash", "bytes"], [3, "pruneBelow", "u64"])],
  [16, "setSnapshotInterval", msg("SetSnapshotInterval", [1, "snapshotInterval", "u64"])],
  [20, "registerParticipant", msg("RegisterParticipant", [1, "id", "string"], [2, "org", "string"], [3, "pubKey", "bytes"], [4, "endpoint", "string"])],
  [21, "removeParticipant", msg("RemoveParticipant", [1, "id", "string"])],
  [22, "beginGtx", msg("BeginGtx", [1, "gid", "string"], [2, "mode", "i32"], [3, "branches", { repeated: GTX_BRANCH }], [4, "deadlineUnixMs", "i64"], [5, "commitWrites", { repeated: GTX_WRITE }])],
  [23, "gtxAnswer", msg("GtxAnswer", [1, "gid", "string"], [2, "branch", "u32"], [3, "op", "i32"], [4, "attempt", "u32"], [5, "status", "i32"], [6, "result", "bytes"], [7, "pubKey", "bytes"], [8, "signature", "bytes"])],
  [24, "gtxDeadline", msg("GtxDeadline", [1, "gid", "string"])],
];

const BY_NAME = new Map(OP_FIELDS.map((e) => [e[1] as string, e]));
const BY_NUM = new Map(OP_FIELDS.map((e) => [e[0], e]));
const OP_SPEC = Object.fromEntries(OP_FIELDS.map((e) => [e[0], "len" as const]));

/** The member an op sets. */
export function opName(op: Op): OpName {
  const keys = Object.keys(op);
  if (keys.length !== 1) throw new Error(`dstt: an op sets exactly one member, got ${JSON.stringify(keys)}`);
  return keys[0] as OpName;
}

/** The encoding of one Op message: its member, always written (even when empty). */
export function encodeOp(op: Op): Uint8Array {
  const name = opName(op);
  const e = BY_NAME.get(name);
  if (!e) throw new Error(`dstt: unknown op ${JSON.stringify(name)}`);
  const w = new Writer();
  w.always(e[0], encodeMessage(e[2], (op as Record<string, unknown>)[name]));
  return w.finish();
}

/**
 * Decodes one Op message. A field number this SDK does not know (an op
 * added to the chain after it) is a DecodeError naming the field.
 */
export function decodeOp(b: Uint8Array): Op {
  let op: Op | undefined;
  read(b, "Op", OP_SPEC, (f) => {
    const [, name, s] = BY_NUM.get(f.num) as readonly [number, OpName, Schema];
    op = { [name]: decodeMessage(s, f.bytes) } as unknown as Op;
  });
  if (!op) throw new DecodeError("dstt: Op: no member set");
  return op;
}
