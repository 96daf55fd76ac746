// Checks every vector of testdata/wire/vectors.json (the shared wire test
// vectors that the Go tests check too) against this SDK.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import {
  Key,
  type Op,
  type TxBody,
  address,
  authorizationHeader,
  decodeOp,
  decodeTxBody,
  decodeTxCanonical,
  encodeOp,
  encodeHistoryRequest,
  encodeTxBody,
  eventsQuery,
  fromHex,
  historyQuery,
  kvGetQuery,
  parseAuthorization,
  parseVersion,
  querySignBytes,
  replayId,
  rotateProofBytes,
  signBytes,
  signRead,
  signTx,
  signedQueryBytes,
  toHex,
  txHashHex,
  txQuery,
  verify,
} from "../src/index.js";

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root: dist/test -> sdk/ts -> repo. */
export const repoRoot = join(here, "..", "..", "..", "..");

type J = Record<string, any>;
const vectors: J = JSON.parse(readFileSync(join(repoRoot, "testdata", "wire", "vectors.json"), "utf8"));

const keys = new Map<string, Key>();
for (const k of vectors.keys) keys.set(k.name, Key.fromSeed(k.seed_hex));
const key = (name: string): Key => {
  const k = keys.get(name);
  assert.ok(k, `no key ${name} in the vectors`);
  return k;
};

const v = (x: J) => ({ height: BigInt(x.height), txIndex: Number(x.tx_index) });

/** The SDK's op for a vector's JSON op. */
function opFromJSON(o: J): Op {
  const [[name, a]] = Object.entries(o) as [[string, J]];
  switch (name) {
    case "put": return { put: { key: a.key, value: fromHex(a.value_hex) } };
    case "delete": return { delete: { key: a.key } };
    case "check": return { check: { key: a.key, version: v(a.version) } };
    case "grant": return { grant: { subject: a.subject, role: a.role, domain: a.domain } };
    case "revoke": return { revoke: { subject: a.subject, role: a.role, domain: a.domain } };
    case "policy": return { policy: { subject: a.subject, domain: a.domain, object: a.object, action: a.action, deny: !!a.deny, remove: !!a.remove } };
    case "rotate_key": return { rotateKey: { newPubKey: fromHex(a.new_pub_key_hex), proof: fromHex(a.proof_hex) } };
    case "add_validator": return { addValidator: { pubKey: fromHex(a.pub_key_hex), power: BigInt(a.power), org: a.org } };
    case "remove_validator": return { removeValidator: { pubKey: fromHex(a.pub_key_hex) } };
    case "add_org": return { addOrg: { id: a.id, admins: a.admins } };
    case "remove_org": return { removeOrg: { id: a.id } };
    case "register_node": return { registerNode: { nodeId: a.node_id, org: a.org } };
    case "remove_node": return { removeNode: { nodeId: a.node_id, org: a.org } };
    case "set_retention": return { setRetention: { retainHeights: BigInt(a.retain_heights), retainSeconds: BigInt(a.retain_seconds) } };
    case "audit_anchor": return { auditAnchor: { seq: BigInt(a.seq), hash: fromHex(a.hash_hex), pruneBelow: BigInt(a.prune_below) } };
    case "set_snapshot_interval": return { setSnapshotInterval: { snapshotInterval: BigInt(a.snapshot_interval) } };
    case "register_participant": return { registerParticipant: { id: a.id, org: a.org, pubKey: fromHex(a.pub_key_hex), endpoint: a.endpoint } };
    case "remove_participant": return { removeParticipant: { id: a.id } };
    case "begin_gtx": return {
      beginGtx: {
        gid: a.gid,
        mode: a.mode,
        branches: a.branches.map((b: J) => ({
          participant: b.participant,
          action: fromHex(b.action_hex),
          compensate: fromHex(b.compensate_hex),
          try: fromHex(b.try_hex),
          confirm: fromHex(b.confirm_hex),
          cancel: fromHex(b.cancel_hex),
        })),
        deadlineUnixMs: BigInt(a.deadline_unix_ms),
        commitWrites: a.commit_writes.map((w: J) => ({ key: w.key, value: fromHex(w.value_hex), delete: w.delete })),
      },
    };
    case "gtx_answer": return {
      gtxAnswer: {
        gid: a.gid, branch: a.branch, op: a.op, attempt: a.attempt, status: a.status,
        result: fromHex(a.result_hex), pubKey: fromHex(a.pub_key_hex), signature: fromHex(a.signature_hex),
      },
    };
    case "gtx_deadline": return { gtxDeadline: { gid: a.gid } };
  }
  throw new Error(`unknown op ${name} in the vectors`);
}

function bodyFromJSON(b: J): TxBody {
  return { chainId: b.chain_id, nonce: BigInt(b.nonce), validUntilHeight: BigInt(b.valid_until_height), ops: b.ops.map(opFromJSON), memo: b.memo ?? "" };
}

/** Every member of the Op oneof (tx.proto), as the vectors name them. */
const OP_NAMES = [
  "put", "delete", "check", "grant", "revoke", "policy", "rotate_key", "add_validator", "remove_validator", "add_org", "remove_org",
  "register_node", "remove_node", "set_retention", "audit_anchor", "set_snapshot_interval",
  "register_participant", "remove_participant", "begin_gtx", "gtx_answer", "gtx_deadline",
];

test("vectors: file version and coverage", () => {
  assert.equal(vectors.version, 1);
  for (const part of ["keys", "txs", "queries", "rotate", "invalid_txs"]) {
    assert.ok(Array.isArray(vectors[part]) && vectors[part].length > 0, `vectors.${part} is empty`);
  }
  const opNames = new Set(vectors.txs.flatMap((t: J) => t.body.ops.map((o: J) => Object.keys(o)[0])));
  for (const n of OP_NAMES) {
    assert.ok(opNames.has(n), `no tx vector has a ${n} op`);
  }
});

test("vectors: keys and addresses", () => {
  for (const k of vectors.keys) {
    const key = Key.fromSeed(k.seed_hex);
    assert.equal(key.pubKeyHex, k.pub_key_hex, k.name);
    assert.equal(key.address, k.address, k.name);
    assert.equal(address(fromHex(k.pub_key_hex)), k.address, k.name);
  }
});

test("vectors: txs (body encoding, sign bytes, signatures, envelope, hash, replay id)", async () => {
  for (const t of vectors.txs) {
    const name = t.name;
    const body = bodyFromJSON(t.body);
    assert.equal(body.chainId, t.chain_id, name);
    const bodyBytes = encodeTxBody(body);
    assert.equal(toHex(bodyBytes), t.body_hex, `${name}: body encoding`);
    assert.deepEqual(decodeTxBody(bodyBytes), body, `${name}: body decodes back`);
    assert.equal(toHex(signBytes(t.chain_id, bodyBytes)), t.sign_bytes_hex, `${name}: sign bytes`);
    assert.equal(toHex(replayId(t.chain_id, bodyBytes)), t.replay_id_hex, `${name}: replay id`);

    const signed = await signTx(body, t.signers.map(key));
    assert.deepEqual(
      signed.signatures.map((s) => ({ pub_key_hex: toHex(s.pubKey), signature_hex: toHex(s.signature) })),
      t.signatures,
      `${name}: signatures (ed25519 is deterministic; sorted by public key)`,
    );
    for (const s of signed.signatures) assert.ok(verify(s.pubKey, signed.signBytes, s.signature), `${name}: verifies`);
    assert.equal(toHex(signed.bytes), t.tx_hex, `${name}: envelope`);
    assert.equal(signed.hash, t.tx_hash_hex, `${name}: tx hash`);
    assert.equal(txHashHex(fromHex(t.tx_hex)), t.tx_hash_hex, `${name}: tx hash of the vector's bytes`);
    assert.equal(signed.replayId, t.replay_id_hex, `${name}: replay id`);

    const { body: decoded } = decodeTxCanonical(fromHex(t.tx_hex));
    assert.deepEqual(decoded, body, `${name}: the envelope decodes to the body`);
    assert.equal(toHex(encodeTxBody(decodeTxBody(fromHex(t.body_hex)))), t.body_hex, `${name}: encode(decode(body)) is the body`);
    for (const op of body.ops) assert.deepEqual(decodeOp(encodeOp(op)), op, `${name}: each op round-trips`);
  }
});

/** The inner query a vector's REST request stands for, built by the SDK. */
function innerQueryFor(q: J) {
  const [method, target] = (q.rest as string).split(" ") as [string, string];
  assert.equal(method, "GET", q.name);
  const url = new URL(target, "http://x");
  const p = url.pathname;
  if (p.startsWith("/v1/kv/") && p.endsWith("/history")) {
    const hr = q.history_request;
    const k = decodeURIComponent(p.slice("/v1/kv/".length, -"/history".length));
    assert.equal(k, hr.key, q.name);
    const before = url.searchParams.get("before");
    assert.deepEqual(before ? parseVersion(before) : { height: 0n, txIndex: 0 }, v(hr.before), `${q.name}: before`);
    assert.equal(Number(url.searchParams.get("limit") ?? 0), hr.limit, `${q.name}: limit`);
    assert.equal(toHex(encodeHistoryRequest({ key: hr.key, before: v(hr.before), limit: hr.limit })), q.data_hex, `${q.name}: HistoryRequest encoding`);
    return historyQuery(k, v(hr.before), hr.limit);
  }
  if (p.startsWith("/v1/kv/")) {
    return kvGetQuery(decodeURIComponent(p.slice("/v1/kv/".length)), BigInt(url.searchParams.get("height") ?? 0));
  }
  if (p.startsWith("/v1/txs/")) return txQuery(p.slice("/v1/txs/".length));
  if (p === "/v1/events") return eventsQuery(key(q.signer).address, url.searchParams.get("prefix") ?? "");
  throw new Error(`${q.name}: unknown REST path ${p}`);
}

test("vectors: signed queries (inner query, sign bytes, signature, SignedQuery, Authorization)", async () => {
  for (const q of vectors.queries) {
    const name = q.name;
    const signer = key(q.signer);
    const inner = innerQueryFor(q);
    assert.equal(inner.path, q.path, `${name}: path`);
    assert.equal(toHex(inner.data), q.data_hex, `${name}: data`);
    assert.equal(inner.height, BigInt(q.height), `${name}: height`);

    const nonce = fromHex(q.nonce_hex);
    const time = BigInt(q.time_unix_ms);
    assert.equal(toHex(querySignBytes(q.chain_id, q.path, fromHex(q.data_hex), BigInt(q.height), time, nonce)), q.sign_bytes_hex, `${name}: sign bytes`);
    const sr = await signRead(signer, q.chain_id, inner, { timeUnixMs: time, nonce });
    assert.equal(toHex(sr.signature), q.signature_hex, `${name}: signature`);
    assert.equal(toHex(signedQueryBytes(sr, inner)), q.signed_query_hex, `${name}: SignedQuery encoding`);
    assert.equal(authorizationHeader(sr), q.authorization, `${name}: Authorization header`);
    assert.deepEqual(parseAuthorization(q.authorization), sr, `${name}: header parses back`);
  }
});

test("vectors: key rotation proofs", async () => {
  for (const r of vectors.rotate) {
    const oldKey = key(r.old);
    const newKey = key(r.new);
    const pb = rotateProofBytes(r.chain_id, oldKey.pubKey, newKey.pubKey);
    assert.equal(toHex(pb), r.proof_bytes_hex, `${r.name}: proof bytes`);
    assert.equal(toHex(newKey.sign(pb)), r.proof_hex, `${r.name}: proof`);
  }
});

test("vectors: invalid txs that are not canonical are refused by the SDK's decoder", () => {
  let n = 0;
  for (const x of vectors.invalid_txs) {
    if (x.code_name !== "ENCODING") continue;
    n++;
    assert.throws(() => decodeTxCanonical(fromHex(x.tx_hex)), `${x.name}: should not decode as canonical`);
  }
  assert.ok(n > 0);
});

test("vectors: unencrypted key files of the Go keyring", () => {
  const files = (vectors.key_files ?? []) as J[];
  const plain = files.filter((f) => f.backend === "test");
  assert.ok(plain.length > 0, "no test-backend key file vector");
  for (const f of plain) {
    const k = Key.fromKeyFile(f.contents);
    assert.equal(k.pubKeyHex, f.pub_key_hex, f.name);
    assert.equal(toHex(k.seed()), f.seed_hex, f.name);
    assert.equal(k.toKeyFile(), f.contents, `${f.name}: the SDK writes the same file`);
  }
  for (const f of files.filter((f) => f.backend !== "test")) {
    assert.throws(() => Key.fromKeyFile(f.contents), /encrypted/, `${f.name}: encrypted files are refused with a clear error`);
  }
});

