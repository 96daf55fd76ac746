// The audit chain, located and verified from the page: entries found by
// (height, tx index) with a binary search over their sequence numbers, and
// a run of entries checked up to the head after a block, whose app hash the
// validators signed in the next block.

import { type AuditAnchor, type AuditEntry, auditAnchor, auditAppHash, auditEntries, checkAuditChain, checkCommit } from "@dstt/sdk";
import { api } from "./session";

/** The latest entry's seq (0: none). */
export async function headSeq(): Promise<number> {
  return (await auditEntries(api(), 0, 1)).head_seq;
}

/**
 * The lowest readable entry's seq: 1 unless the chain was pruned below an
 * audit export anchor (a page asked from 0 starts there).
 */
export async function lowestSeq(): Promise<number> {
  return (await auditEntries(api(), 0, 1)).entries[0]?.seq ?? 1;
}

/** The entry with seq s. */
export async function entry(s: number): Promise<AuditEntry> {
  const p = await auditEntries(api(), s, 1);
  const e = p.entries[0];
  if (!e) throw new Error(`no audit entry ${s}`);
  return e;
}

/** The first seq whose (height, tx index) is at or after (height, index); n+1 when none. */
export async function lowerBound(height: number, index: number): Promise<number> {
  const n = await headSeq();
  let lo = await lowestSeq();
  let hi = n + 1;
  while (lo < hi) {
    const mid = Math.floor((lo + hi) / 2);
    const e = await entry(mid);
    if (e.height < height || (e.height === height && e.tx_index < index)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The audit entry of the tx at (height, index), if there is one. */
export async function findEntry(height: number, index: number): Promise<AuditEntry | undefined> {
  const s = await lowerBound(height, index);
  try {
    const e = await entry(s);
    return e.height === height && e.tx_index === index ? e : undefined;
  } catch {
    return undefined;
  }
}

/** Entries from..to (inclusive), in pages. */
export async function entriesRange(from: number, to: number): Promise<AuditEntry[]> {
  const out: AuditEntry[] = [];
  for (let s = from; s <= to; ) {
    const p = await auditEntries(api(), s, Math.min(10_000, to - s + 1));
    if (p.entries.length === 0) break;
    out.push(...p.entries);
    s += p.entries.length;
  }
  return out;
}

export interface Step {
  label: string;
  ok: boolean;
  detail: string;
}

export interface Verification {
  /** true: every step passed; false: one failed; undefined: the block that signs it is not committed yet. */
  ok: boolean | undefined;
  steps: Step[];
  anchor: AuditAnchor;
  entries: AuditEntry[];
}

/**
 * Verifies the entries from seq `from` to the head after block `height`:
 * each entry's hash recomputed here, each link to the entry before (from
 * `from`-1 on, or from the lowest readable entry of a chain pruned below
 * an audit export anchor), the last one is the head the node reports for that block,
 * block height+1's header hashes to the block hash its commit signs, the
 * validator set hashes to the header's validators hash and validators of
 * more than 2/3 of its power signed (ed25519, checked here), the app hash
 * recomputed here from the state hash and that head equals the header's,
 * and the node's own light-client check agrees.
 */
export async function verifyThrough(from: number, height: number): Promise<Verification> {
  const anchor = await auditAnchor(api(), height);
  const steps: Step[] = [];
  if (anchor.failure === "NOT_SIGNED_YET") return { ok: undefined, steps, anchor, entries: [] };
  const start = Math.max(await lowestSeq(), from - 1);
  const entries = anchor.head_seq >= start ? await entriesRange(start, anchor.head_seq) : [];
  const chain = checkAuditChain(entries, start === 1 ? "" : undefined);
  steps.push({
    label: "hash chain",
    ok: chain.ok && entries.length > 0,
    detail: chain.ok ? `entries ${start}–${anchor.head_seq}: each hash recomputed from its fields, each linked to the one before` : (chain.problem ?? "no entries"),
  });
  const last = entries[entries.length - 1];
  const atHead = !!last && last.seq === anchor.head_seq && last.hash === anchor.head_hash;
  steps.push({ label: "audit head", ok: atHead, detail: `entry ${anchor.head_seq} is the head after block ${anchor.height}` + (atHead ? "" : `: the node reports ${anchor.head_hash}, the entry hashes to ${last?.hash ?? "(none)"}`) });
  // The commit, checked here: header → block hash, validator set → the
  // header's validators hash, >2/3 of its power signed the block.
  const commit = checkCommit(anchor, await api().chainId());
  steps.push({
    label: "validators' signatures",
    ok: commit.ok,
    detail: commit.ok
      ? `block ${anchor.signed_height}: its header hashes to the block hash that ${commit.signatures} validator signature(s) sign, power ${commit.signedPower} of ${commit.totalPower} (more than 2/3), from the validator set the header names; checked in this browser`
      : (commit.problem ?? "not verified"),
  });
  const app = auditAppHash(anchor.state_hash, anchor.head_seq, anchor.head_hash);
  const appOk = !!commit.appHash && app === commit.appHash;
  steps.push({ label: "app hash", ok: appOk, detail: `AppHash(state hash, head) = ${app}` + (appOk ? `, the app hash in block ${anchor.signed_height}'s signed header` : `; the signed header has ${commit.appHash ?? "(none)"}`) });
  steps.push({
    label: "node's check",
    ok: anchor.verified,
    detail: anchor.verified ? `the node's CometBFT light-client check (audit.VerifyAgainstCommit) agrees` : `${anchor.failure}: ${anchor.detail ?? ""}`,
  });
  return { ok: steps.every((s) => s.ok), steps, anchor, entries };
}
