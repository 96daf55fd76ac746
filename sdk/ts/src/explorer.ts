// The explorer's reads (transport/api/explorer.go): the consensus audit
// log and its anchors in the validators' signed commits, the policy, a
// committed tx's bytes, identities and governance views; and the audit
// chain's verification in the client: each entry's hash recomputed from
// its fields, the links between entries, and the app hash that folds the
// chain's head into consensus (audit/entry.go, audit/chain.go).

import { concat, fromHex, toHex, uint64BE, utf8, uvarint } from "./bytes.js";
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
