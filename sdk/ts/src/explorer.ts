// The explorer's reads (transport/api/explorer.go): the consensus audit
// log and its anchors in the validators' signed commits, the policy, a
// committed tx's bytes, identities and governance views; and the audit
// chain's verification in the client: each entry's hash recomputed from
// its fields, the links between entries, and the app hash that folds the
// chain's head into consensus (audit/entry.go, audit/chain.go).

import { concat, fromBase64, fromHex, toHex, uint64BE, utf8, uvarint } from "./bytes.js";
import { address, verify } from "./keys.js";
import type { Client } from "./client.js";
import type { InnerQuery } from "./auth.js";
import type { components } from "./openapi.js";
import { sha256 } from "@noble/hashes/sha2.js";

export type AuditEntry = components["schemas"]["AuditEntry"];
export type AuditPage = components["schemas"]["AuditPage"];
export type AuditAnchor = components["schemas"]["AuditAnchor"];
export type TxBytes = components["schemas"]["TxBytes"];
export type PolicyView = components["schemas"]["Policy"];
export type IdentityView = components["schemas"]["Identity"];
export type ValidatorView = components["schemas"]["Validator"];
export type OrgsView = components["schemas"]["Orgs"];

/** The inner query of GET /v1/audit/entries: byte 1, uvarint from, uvarint limit. */
export function auditEntriesQuery(from: number, limit: number): InnerQuery {
  return { path: "/audit/entries", data: concat(new Uint8Array([1]), uvarint(from), uvarint(limit)), height: 0n };
}

/** GET /v1/audit/entries: entries from seq `from` on (ascending), at most limit (0: 100). */
export async function auditEntries(c: Client, from: number, limit: number): Promise<AuditPage> {
  const q = new URLSearchParams();
  if (from > 0) q.set("from", String(from));
  if (limit > 0) q.set("limit", String(limit));
  return c.request<AuditPage>("GET", "/v1/audit/entries?" + q, { query: auditEntriesQuery(from, limit) });
}

/** GET /v1/audit/anchor: the audit head after block height, proved against block height+1's signed commit. */
export async function auditAnchor(c: Client, height?: number): Promise<AuditAnchor> {
  const qs = height !== undefined ? `?height=${height}` : "";
  return c.request<AuditAnchor>("GET", "/v1/audit/anchor" + qs, { reader: null });
}

/** GET /v1/rbac/policy (signed: a policy reader). */
export async function policy(c: Client): Promise<PolicyView> {
  return c.request<PolicyView>("GET", "/v1/rbac/policy", { query: { path: "/rbac/policy", data: new Uint8Array(), height: 0n } });
}

/** GET /v1/txs/{hash}/raw: the committed tx's envelope, for whoever may read its result. */
export async function txBytes(c: Client, hash: string): Promise<TxBytes> {
  const h = hash.toUpperCase();
  return c.request<TxBytes>("GET", `/v1/txs/${h}/raw`, { query: { path: "/tx", data: fromHex(h), height: 0n } });
}

/** GET /v1/identities/{address}. */
export async function identity(c: Client, addr: string): Promise<IdentityView> {
  const a = addr.toLowerCase();
  return c.request<IdentityView>("GET", "/v1/identities/" + a, { query: { path: "/identity", data: utf8(a), height: 0n } });
}

/** GET /v1/gov/validators (open to anyone). */
export async function validators(c: Client): Promise<ValidatorView[]> {
  return c.request<ValidatorView[]>("GET", "/v1/gov/validators", { reader: null });
}

/** GET /v1/gov/orgs. */
export async function orgs(c: Client): Promise<OrgsView> {
  return c.request<OrgsView>("GET", "/v1/gov/orgs", { query: { path: "/gov/orgs", data: new Uint8Array(), height: 0n } });
}

/** Unix nanoseconds of an RFC 3339 time with up to 9 fractional digits ("" → 0). */
export function unixNanos(t: string | undefined): bigint {
  if (!t) return 0n;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) throw new Error(`dstt: bad time ${JSON.stringify(t)}`);
  const ms = Date.parse((m[1] as string) + (m[3] as string));
  if (Number.isNaN(ms)) throw new Error(`dstt: bad time ${JSON.stringify(t)}`);
  return BigInt(ms) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

function lpString(s: string): Uint8Array {
  const b = utf8(s);
  return concat(uvarint(b.length), b);
}

function lpBytes(b: Uint8Array): Uint8Array {
  return concat(uvarint(b.length), b);
}

/** The canonical encoding of every field but the hash (audit.Entry.EncodeBody). */
export function auditEntryBody(e: AuditEntry): Uint8Array {
  const resources = e.resources ?? [];
  const parts: Uint8Array[] = [
    new Uint8Array([e.endpoint ? 2 : 1]),
    uvarint(e.seq),
    uvarint(e.height),
    uvarint(e.tx_index),
    uint64BE(unixNanos(e.time)),
    lpString(e.kind),
    lpString(e.actor ?? ""),
    lpString(e.action ?? ""),
    uvarint(resources.length),
    ...resources.map(lpString),
    uvarint(e.code),
    lpString(e.code_name ?? ""),
    lpString(e.message ?? ""),
    lpBytes(fromHex(e.tx_hash ?? "")),
    lpBytes(fromHex(e.prev_hash ?? "")),
  ];
  if (e.endpoint) parts.push(lpString(e.endpoint));
  return concat(...parts);
}

/** SHA-256 of the entry's body, lower-case hex: what its hash must be. */
export function auditEntryHash(e: AuditEntry): string {
  return toHex(sha256(auditEntryBody(e)));
}

/**
 * The app hash that folds the audit chain into consensus:
 * SHA-256("dstt/apphash/audit/v1\0" || lp(stateHash) || uvarint(seq) || lp(headHash)).
 */
export function auditAppHash(stateHashHex: string, headSeq: number, headHashHex: string): string {
  const tag = utf8("dstt/apphash/audit/v1\0");
  return toHex(sha256(concat(tag, lpBytes(fromHex(stateHashHex)), uvarint(headSeq), lpBytes(fromHex(headHashHex)))));
}

/** The outcome of checking a run of entries. */
export interface ChainCheck {
  ok: boolean;
  /** Entries checked. */
  checked: number;
  /** Why not, naming the first entry that fails. */
  problem?: string;
}

/**
 * Checks consecutive entries: each one's hash is its body's SHA-256, its
 * seq follows the one before, and its prev_hash is that entry's hash
 * (prevHash: the hash of the entry before the first, "" when it is seq 1).
 */
export function checkAuditChain(entries: AuditEntry[], prevHash: string | undefined): ChainCheck {
  let prev = prevHash;
  let seq = entries.length > 0 ? (entries[0] as AuditEntry).seq - 1 : 0;
  for (const e of entries) {
    if (e.seq !== seq + 1) return { ok: false, checked: 0, problem: `entry ${e.seq} follows ${seq}: a gap` };
    if (prev !== undefined && (e.prev_hash ?? "") !== prev) {
      return { ok: false, checked: 0, problem: `entry ${e.seq}: prev_hash ${e.prev_hash ?? ""} is not the hash of entry ${seq} (${prev})` };
    }
    const h = auditEntryHash(e);
    if (h !== e.hash) return { ok: false, checked: 0, problem: `entry ${e.seq}: its fields hash to ${h}, it says ${e.hash}` };
    prev = e.hash;
    seq = e.seq;
  }
  return { ok: true, checked: entries.length };
}

/** CometBFT's Merkle root (crypto/merkle.HashFromByteSlices): RFC 6962 leaves and inner nodes. */
export function merkleRoot(items: Uint8Array[]): Uint8Array {
  if (items.length === 0) return sha256(new Uint8Array());
  if (items.length === 1) return sha256(concat(new Uint8Array([0]), items[0] as Uint8Array));
  let k = 1;
  while (k * 2 < items.length) k *= 2;
  return sha256(concat(new Uint8Array([1]), merkleRoot(items.slice(0, k)), merkleRoot(items.slice(k))));
}

/** Reads a protobuf wrapper (StringValue, Int64Value, BytesValue: field 1) from a header leaf. */
function wrapped(leaf: Uint8Array): { bytes: Uint8Array; varint: bigint } {
  if (leaf.length === 0) return { bytes: new Uint8Array(), varint: 0n };
  let i = 1;
  let v = 0n;
  for (let shift = 0n; ; shift += 7n) {
    const b = leaf[i++] as number;
    v |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  return leaf[0] === 0x08 ? { bytes: new Uint8Array(), varint: v } : { bytes: leaf.subarray(i, i + Number(v)), varint: 0n };
}

function le64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, n, true);
  return b;
}

function field(tag: number, body: Uint8Array): Uint8Array {
  return concat(new Uint8Array([tag]), uvarint(body.length), body);
}

/**
 * CometBFT's precommit sign bytes (types.VoteSignBytes): the varint length,
 * then CanonicalVote {type 2, sfixed64 height, sfixed64 round (omitted when
 * 0), block id {hash, part set header {total, hash}}, timestamp {seconds,
 * nanos}, chain id}.
 */
export function precommitSignBytes(chainId: string, height: number, round: number, blockHash: Uint8Array, partsTotal: number, partsHash: Uint8Array, timestamp: string): Uint8Array {
  const ns = unixNanos(timestamp);
  const secs = ns / 1_000_000_000n;
  const nanos = ns % 1_000_000_000n;
  const psh = concat(partsTotal ? concat(new Uint8Array([0x08]), uvarint(partsTotal)) : new Uint8Array(), partsHash.length ? field(0x12, partsHash) : new Uint8Array());
  const body = concat(
    new Uint8Array([0x08, 0x02, 0x11]),
    le64(BigInt(height)),
    round ? concat(new Uint8Array([0x19]), le64(BigInt(round))) : new Uint8Array(),
    field(0x22, concat(blockHash.length ? field(0x0a, blockHash) : new Uint8Array(), field(0x12, psh))),
    field(0x2a, concat(secs ? concat(new Uint8Array([0x08]), uvarint(secs)) : new Uint8Array(), nanos ? concat(new Uint8Array([0x10]), uvarint(nanos)) : new Uint8Array())),
    chainId ? field(0x32, utf8(chainId)) : new Uint8Array(),
  );
  return concat(uvarint(body.length), body);
}

/** A validator's bytes in the validator set hash (SimpleValidator {PublicKey {ed25519}, power}). */
function simpleValidator(pubKey: Uint8Array, power: number): Uint8Array {
  return concat(field(0x0a, field(0x0a, pubKey)), power ? concat(new Uint8Array([0x10]), uvarint(power)) : new Uint8Array());
}

/** The outcome of checking a block's commit in the client. */
export interface CommitCheck {
  ok: boolean;
  /** The app hash the header carries (hex), when the header checked out. */
  appHash?: string;
  signatures: number;
  signedPower: number;
  totalPower: number;
  problem?: string;
}

/**
 * Checks an anchor's proof here, as CometBFT's VerifyCommitLight does: the
 * header leaves hash to the signed block hash, the header is for chainId
 * and the signed height, the validator set hashes to the header's
 * validators hash, and validators of more than 2/3 of its power signed the
 * block (ed25519 over the precommit sign bytes). It trusts the validator
 * set the header names; pin the set you trust by comparing it.
 */
export function checkCommit(a: AuditAnchor, chainId: string): CommitCheck {
  const fail = (problem: string): CommitCheck => ({ ok: false, signatures: 0, signedPower: 0, totalPower: 0, problem });
  const p = a.proof;
  if (!p || p.header_leaves.length !== 14) return fail("the node sent no commit proof");
  const leaves = p.header_leaves.map(fromBase64);
  const blockHash = merkleRoot(leaves);
  if (toHex(blockHash) !== (a.block_hash ?? "").toLowerCase()) return fail(`the header hashes to ${toHex(blockHash)}, not the block hash ${a.block_hash}`);
  const chain = new TextDecoder().decode(wrapped(leaves[1] as Uint8Array).bytes);
  const height = Number(wrapped(leaves[2] as Uint8Array).varint);
  if (chain !== chainId || height !== a.signed_height) return fail(`the header is for chain ${chain} height ${height}, not ${chainId} height ${a.signed_height}`);
  const valsHash = toHex(wrapped(leaves[7] as Uint8Array).bytes);
  const appHash = toHex(wrapped(leaves[10] as Uint8Array).bytes);
  const vals = p.validators.map((v) => ({ ...v, key: fromBase64(v.pub_key) }));
  const setHash = toHex(merkleRoot(vals.map((v) => simpleValidator(v.key, v.power))));
  if (setHash !== valsHash) return fail(`the validator set hashes to ${setHash}, the header names ${valsHash}`);
  const total = vals.reduce((s, v) => s + v.power, 0);
  let signed = 0;
  let n = 0;
  for (const [i, s] of p.signatures.entries()) {
    if (s.flag !== 2) continue;
    const v = vals[i];
    if (!v || address(v.key).toLowerCase() !== (s.address ?? "").toLowerCase()) return fail(`signature ${i} is not by validator ${i} of the set`);
    const msg = precommitSignBytes(chainId, a.signed_height, p.round, blockHash, p.parts_total, fromHex(p.parts_hash), s.timestamp ?? "");
    if (!verify(v.key, msg, fromBase64(s.signature ?? ""))) return fail(`validator ${s.address}'s signature does not verify`);
    signed += v.power;
    n++;
  }
  if (signed * 3 <= total * 2) return { ok: false, appHash, signatures: n, signedPower: signed, totalPower: total, problem: `only ${signed} of ${total} voting power signed` };
  return { ok: true, appHash, signatures: n, signedPower: signed, totalPower: total };
}

export type GtxView = components["schemas"]["Gtx"];
export type GtxListView = components["schemas"]["GtxList"];
export type GtxParticipantView = components["schemas"]["GtxParticipant"];

/** The inner query of GET /v1/gtxs: "/gtx/list", an encoded GtxListRequest {after, limit, open_only}. */
export function gtxListQuery(after: string, limit: number, openOnly: boolean): InnerQuery {
  const data = concat(
    after ? field(0x0a, utf8(after)) : new Uint8Array(),
    limit ? concat(new Uint8Array([0x10]), uvarint(limit)) : new Uint8Array(),
    openOnly ? new Uint8Array([0x18, 0x01]) : new Uint8Array(),
  );
  return { path: "/gtx/list", data, height: 0n };
}

/** GET /v1/gtxs: a page of gtxs in gid order, those the reader may read. */
export async function gtxList(c: Client, o: { after?: string; limit?: number; open?: boolean } = {}): Promise<GtxListView> {
  const q = new URLSearchParams();
  if (o.after) q.set("after", o.after);
  if (o.limit) q.set("limit", String(o.limit));
  if (o.open) q.set("open", "true");
  return c.request<GtxListView>("GET", "/v1/gtxs?" + q, { query: gtxListQuery(o.after ?? "", o.limit ?? 0, o.open ?? false) });
}

/** GET /v1/gtxs/{gid}: a gtx, its branches and its journal (as of height, 0: latest). */
export async function gtx(c: Client, gid: string, height = 0): Promise<GtxView> {
  const qs = height > 0 ? `?height=${height}` : "";
  return c.request<GtxView>("GET", `/v1/gtxs/${encodeURIComponent(gid)}${qs}`, { query: { path: "/gtx/get", data: utf8(gid), height: BigInt(height) } });
}

/** GET /v1/gtx/participants/{id} (open to anyone). */
export async function gtxParticipant(c: Client, id: string): Promise<GtxParticipantView> {
  return c.request<GtxParticipantView>("GET", `/v1/gtx/participants/${encodeURIComponent(id)}`, { reader: null });
}
