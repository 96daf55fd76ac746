// The explorer's reads against a real node (harness.ts): the audit log
// (refused unsigned, every entry's hash and link recomputed by the SDK),
// the anchor of a block's audit head in the next block's signed commit (the
// app hash recomputed by the SDK), a tx's bytes, the policy and identities.

import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  Client,
  DsttError,
  Key,
  auditAnchor,
  auditAppHash,
  auditEntries,
  auditEntryHash,
  checkAuditChain,
  checkCommit,
  decodeTx,
  decodeTxBody,
  fromBase64,
  identity,
  ops,
  policy,
  txBytes,
  txHashHex,
  unixNanos,
} from "../src/index.js";
import { type TestNode, startNode } from "./harness.js";

const admin = Key.generate();
let node: TestNode;
let c: Client;

before(async () => {
  node = await startNode({ admins: [admin.address], chainId: "dstt-explorer-test" });
  c = new Client({ url: node.url, signer: admin });
});

after(async () => {
  await node?.stop();
});

test("explorer: RFC 3339 times to Unix nanoseconds", () => {
  assert.equal(unixNanos("1970-01-01T00:00:01.5Z"), 1_500_000_000n);
  assert.equal(unixNanos("2026-11-27T23:06:23.593198975Z"), BigInt(Date.parse("2026-11-27T23:06:23Z")) * 1_000_000n + 593198975n);
  assert.equal(unixNanos(""), 0n);
  assert.throws(() => unixNanos("yesterday"));
});

test("explorer: audit entries verify in the SDK, and their head is signed in the next block", async () => {
  const out = await c.commit([ops.put("ex/a", "1")]);
  await assert.rejects(auditEntries(c.with({ reader: Key.generate() }), 1, 10), (e: unknown) => e instanceof DsttError && e.code === "UNAUTHORIZED");
  const page = await auditEntries(c, 1, 100);
  assert.ok(page.entries.length > 0);
  for (const e of page.entries) assert.equal(auditEntryHash(e), e.hash, `entry ${e.seq}`);
  assert.deepEqual(checkAuditChain(page.entries, ""), { ok: true, checked: page.entries.length });
  const tampered = page.entries.map((e) => ({ ...e }));
  (tampered[0] as { resources?: string[] }).resources = ["someone/else"];
  assert.equal(checkAuditChain(tampered, "").ok, false);
  const mine = page.entries.find((e) => e.tx_hash?.toUpperCase() === out.hash);
  assert.ok(mine, "the tx's entry");

  let anchor = await auditAnchor(c, out.height);
  for (let i = 0; anchor.failure === "NOT_SIGNED_YET" && i < 200; i++) {
    await new Promise((r) => setTimeout(r, 50));
    anchor = await auditAnchor(c, out.height);
  }
  assert.equal(anchor.verified, true, JSON.stringify(anchor));
  assert.equal(auditAppHash(anchor.state_hash, anchor.head_seq, anchor.head_hash), anchor.app_hash);
  const cc = checkCommit(anchor, "dstt-explorer-test");
  assert.equal(cc.ok, true, cc.problem);
  assert.equal(cc.appHash, anchor.app_hash);
  assert.equal(cc.signedPower, anchor.total_power);
  // A signature over another app hash, or for another chain, does not verify.
  const forged = structuredClone(anchor);
  const sig = forged.proof!.signatures.find((s) => s.flag === 2)!;
  sig.timestamp = "2001-01-01T00:00:00Z";
  assert.equal(checkCommit(forged, "dstt-explorer-test").ok, false);
  assert.equal(checkCommit(anchor, "another-chain").ok, false);
  assert.ok(anchor.head_seq >= mine.seq);
});

test("explorer: a tx's bytes, the policy, an identity", async () => {
  const out = await c.commit([ops.put("ex/b", "two")], { memo: "m" });
  const tb = await txBytes(c, out.hash);
  const raw = fromBase64(tb.tx);
  assert.equal(txHashHex(raw).toUpperCase(), out.hash);
  const body = decodeTxBody(decodeTx(raw).bodyBytes);
  assert.deepEqual(body.ops.map((o) => ("put" in o ? o.put.key : "")), ["ex/b"]);
  await assert.rejects(txBytes(c.with({ reader: Key.generate() }), out.hash), (e: unknown) => e instanceof DsttError && e.code === "UNAUTHORIZED");
  const p = await policy(c);
  assert.equal(p.open, false);
  assert.ok(p.grants.some((g) => g.subject === admin.address));
  assert.equal((await identity(c, admin.address)).identity, admin.address);
});
