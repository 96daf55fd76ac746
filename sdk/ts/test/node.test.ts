// Integration tests against a real node (see harness.ts): submit, reads
// with versions and history, signed reads under access control, optimistic
// transactions under contention, and event streams resumed with
// Last-Event-ID. The chain has the vectors' chain id, so the invalid tx
// vectors can be checked against the node as well.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import {
  Client,
  Code,
  DsttError,
  Key,
  TxError,
  type WriteEvent,
  fromHex,
  newTxBody,
  ops,
  signTx,
  parseEventId,
  compareEventPos,
  versionText,
} from "../src/index.js";
import { type TestNode, startNode } from "./harness.js";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
const vectors = JSON.parse(readFileSync(join(repoRoot, "testdata", "wire", "vectors.json"), "utf8"));
const CHAIN_ID: string = vectors.txs[0].chain_id;

const admin = Key.generate();
let node: TestNode;
let c: Client;

before(async () => {
  node = await startNode({ admins: [admin.address], chainId: CHAIN_ID });
  c = new Client({ url: node.url, signer: admin });
});

after(async () => {
  await node?.stop();
});

/** Waits for cond, polling, until the deadline. */
async function eventually<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("node: submit in commit mode, then read the value with its version", async () => {
  const out = await c.commit([ops.put("t1/a", "hello")]);
  assert.equal(out.status, "committed");
  assert.equal(out.code, 0);
  assert.equal(out.code_name, "OK");
  const w = out.writes?.[0];
  assert.ok(w && w.key === "t1/a", JSON.stringify(out));
  const got = await c.get("t1/a");
  assert.ok(got);
  assert.equal(got.text, "hello");
  assert.equal(versionText(got.version), w.version);
  assert.equal(BigInt(out.height ?? 0), got.version.height);
  const rec = await c.tx(out.hash);
  assert.equal(rec.code, 0);
  assert.equal(rec.signer, admin.address);
  assert.equal(await c.get("t1/missing"), null);
});

test("node: submit in sync mode is admitted, then committed", async () => {
  const tx = await c.buildTx([ops.put("t1/sync", new Uint8Array([0, 255, 1]))]);
  const out = await c.broadcast(tx, { mode: "sync" });
  assert.equal(out.status, "admitted");
  assert.equal(out.hash, tx.hash);
  const rec = await eventually("the sync tx to commit", async () => {
    try {
      return await c.tx(tx.hash);
    } catch (err) {
      if (err instanceof DsttError && err.notFound) return undefined;
      throw err;
    }
  });
  assert.equal(rec.code, 0);
  const got = await c.get("t1/sync");
  assert.deepEqual(got?.value, new Uint8Array([0, 255, 1]), "binary values round-trip (value_base64)");
});

test("node: batch submit reports each tx; a failed check aborts only its tx", async () => {
  const good1 = await c.buildTx([ops.put("t1/b1", "1")]);
  const good2 = await c.buildTx([ops.put("t1/b2", "2")]);
  const conflicting = await c.buildTx([ops.check("t1/a", "0"), ops.put("t1/b3", "3")]); // t1/a exists
  const res = await c.submit([good1, good2, conflicting], { mode: "commit" });
  assert.deepEqual(res.results.map((r) => r.status), ["committed", "committed", "failed"]);
  assert.equal(res.committed, 2);
  assert.equal(res.failed, 1);
  assert.equal(res.results[2]?.code, Code.CONFLICT);
  assert.equal(res.results[2]?.code_name, "CONFLICT");
  assert.equal(await c.get("t1/b3"), null, "nothing of the failed tx applied");
  await assert.rejects(c.broadcast(conflicting), (err) => err instanceof TxError, "a single failing tx throws TxError");
});

test("node: reads at a height and the history of a key", async () => {
  const o1 = await c.commit([ops.put("t2/k", "v1")]);
  const o2 = await c.commit([ops.put("t2/k", "v2")]);
  const o3 = await c.commit([ops.delete("t2/k")]);
  assert.equal(await c.get("t2/k"), null, "deleted");
  const at1 = await c.get("t2/k", { height: o1.height! });
  assert.equal(at1?.text, "v1");
  const at2 = await c.get("t2/k", { height: o2.height! });
  assert.equal(at2?.text, "v2");
  assert.equal(versionText(at2!.version), o2.writes?.[0]?.version);

  const h = await c.history("t2/k");
  assert.deepEqual(
    h.versions.map((e) => [versionText(e.version), e.deleted, e.text]),
    [
      [o3.writes?.[0]?.version, true, ""],
      [o2.writes?.[0]?.version, false, "v2"],
      [o1.writes?.[0]?.version, false, "v1"],
    ],
  );
  const p1 = await c.history("t2/k", { limit: 2 });
  assert.equal(p1.versions.length, 2);
  assert.ok(p1.next, "a next page");
  const p2 = await c.history("t2/k", { limit: 2, before: p1.next! });
  assert.deepEqual(p2.versions.map((e) => e.text), ["v1"]);
  const all = [];
  for await (const e of c.historyAll("t2/k", 1)) all.push(versionText(e.version));
  assert.deepEqual(all, h.versions.map((e) => versionText(e.version)));
});

test("node: signed reads under access control (allowed and refused)", async () => {
  const reader = Key.generate();
  await c.commit([ops.put("shared/doc", "for readers"), ops.put("secret/doc", "admins only")]);
  const asReader = new Client({ url: node.url, signer: reader });
  const anonymous = new Client({ url: node.url });

  // Before any rule: the reader and an anonymous client are refused.
  await assert.rejects(asReader.get("shared/doc"), (err) => err instanceof DsttError && err.status === 403 && err.unauthorized);
  await assert.rejects(anonymous.get("shared/doc"), (err) => err instanceof DsttError && err.status === 403 && err.unauthorized);

  // The admin allows the reader to read shared/*.
  await c.commit([ops.policy({ subject: reader.address, domain: "shared", object: "shared/*", action: "read" })]);
  const got = await asReader.get("shared/doc");
  assert.equal(got?.text, "for readers");
  const h = await asReader.history("shared/doc");
  assert.equal(h.versions.length, 1);
  // Not secret/*, and no writes.
  await assert.rejects(asReader.get("secret/doc"), (err) => err instanceof DsttError && err.status === 403);
  await assert.rejects(asReader.history("secret/doc"), (err) => err instanceof DsttError && err.status === 403);
  await assert.rejects(asReader.commit([ops.put("shared/doc", "x")]), (err) => err instanceof TxError && err.txCode === Code.UNAUTHORIZED);
  // The admin reads everything.
  assert.equal((await c.get("secret/doc"))?.text, "admins only");
  // Two identical reads in the same millisecond are two signed reads (fresh nonces).
  const [a, b] = await Promise.all([asReader.get("shared/doc"), asReader.get("shared/doc")]);
  assert.equal(a?.text, b?.text);
});

test("node: 16 concurrent optimistic increments of one counter end at exactly 16", async () => {
  const key = "t3/counter";
  const clients = Array.from({ length: 16 }, () => new Client({ url: node.url, signer: admin }));
  const results = await Promise.all(
    clients.map((cl) =>
      cl.txn(async (t) => {
        const cur = await t.get(key);
        const n = cur ? Number(cur.text) : 0;
        t.put(key, String(n + 1));
        return n;
      }, { maxAttempts: 200, maxBackoffMs: 300 }),
    ),
  );
  const final = await c.get(key);
  assert.equal(final?.text, "16");
  assert.deepEqual(results.map((r) => r.value).sort((x, y) => x - y), Array.from({ length: 16 }, (_, i) => i), "each increment saw a distinct count");
  const retried = results.filter((r) => r.attempts > 1).length;
  assert.ok(retried > 0, "some transactions hit CONFLICT and retried");
  const h = await c.history(key);
  assert.equal(h.versions.length, 16);
});

test("node: event stream resumes with Last-Event-ID: no event lost or repeated", async () => {
  const prefix = "t4/";
  const sub = await c.subscribe(prefix);
  const seen: WriteEvent[] = [];
  const total = 24;
  const writer = (async () => {
    for (let i = 0; i < total; i += 2) {
      // two txs per batch, so blocks hold several events
      await c.submit([await c.buildTx([ops.put(`${prefix}${i}`, String(i))]), await c.buildTx([ops.put(`${prefix}${i + 1}`, String(i + 1))])]);
    }
  })();
  for await (const ev of sub) {
    seen.push(ev);
    if (seen.length % 5 === 0) sub.dropConnection(); // the stream resumes with Last-Event-ID
    if (seen.length === total / 2) break;
  }
  await writer;
  const resumeAt = sub.lastId;
  assert.ok(resumeAt, "a position to resume at");
  assert.ok(sub.reconnects >= 2, `reconnected (${sub.reconnects})`);
  // A new subscription resumes after the last event the first one delivered.
  const sub2 = await c.subscribe(prefix, { after: resumeAt! });
  for await (const ev of sub2) {
    seen.push(ev);
    if (seen.length === total) break;
  }
  const keys = seen.map((e) => e.key);
  assert.equal(new Set(keys).size, total, "no event repeated");
  assert.deepEqual([...keys].sort(), Array.from({ length: total }, (_, i) => `${prefix}${i}`).sort(), "no event lost");
  for (let i = 1; i < seen.length; i++) {
    assert.ok(compareEventPos(parseEventId(seen[i - 1]!.id), parseEventId(seen[i]!.id)) < 0, "in commit order");
  }
  for (const e of seen) {
    assert.equal(e.op, "put");
    assert.equal(e.value, e.key.slice(prefix.length));
  }
  // From a height: replays the writes of the store.
  const first = seen[0]!;
  const sub3 = await c.subscribe(prefix, { fromHeight: first.height });
  const replay: string[] = [];
  for await (const ev of sub3) {
    replay.push(ev.id);
    if (replay.length === total) break;
  }
  assert.deepEqual(replay, seen.map((e) => e.id));
});

test("node: the invalid tx vectors are refused with their codes", async () => {
  let n = 0;
  for (const x of vectors.invalid_txs) {
    if (x.chain_id !== CHAIN_ID) continue; // checked on another chain (wrong-chain): below
    n++;
    await assert.rejects(
      c.broadcast(fromHex(x.tx_hex), { mode: "sync" }),
      (err) => {
        assert.ok(err instanceof TxError, `${x.name}: want a TxError, got ${err}`);
        assert.equal(err.txCode, x.code, `${x.name}: ${err.message}`);
        assert.equal(err.code, x.code_name, x.name);
        return true;
      },
    );
  }
  assert.ok(n >= 30, `${n} invalid vectors checked`);
  const other = await c.buildTx([ops.put("t5/k", "v")]);
  const foreign = await signTx(newTxBody("dstt-other", [ops.put("t5/k", "v")], { validUntilHeight: other.body.validUntilHeight }), [admin]);
  await assert.rejects(c.broadcast(foreign), (err) => err instanceof TxError && err.txCode === Code.WRONG_CHAIN);
});
