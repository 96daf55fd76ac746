// Pure tests of the encoding rules and helpers (no node).

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  DecodeError,
  GtxMode,
  GtxOp,
  GtxStatus,
  Key,
  decodeOp,
  isGovOp,
  decodeTxCanonical,
  encodeHistoryRequest,
  encodeOp,
  encodeTx,
  encodeTxBody,
  eventIdText,
  goJSONString,
  isCanonical,
  decodeTxBody,
  newTxBody,
  ops,
  parseEventId,
  compareEventPos,
  parseVersion,
  signTx,
  toHex,
  uvarint,
  versionText,
} from "../src/index.js";

test("proto: non-nullable versions are written even when zero", () => {
  assert.equal(toHex(encodeOp(ops.check("k", "0"))), "1a050a016b1200");
  assert.equal(toHex(encodeHistoryRequest({ key: "k", before: { height: 0n, txIndex: 0 }, limit: 0 })), "0a016b1200");
});

test("proto: oneof members are written even when empty; defaults are omitted", () => {
  assert.equal(toHex(encodeOp({ put: { key: "", value: new Uint8Array() } })), "0a00");
  assert.equal(toHex(encodeOp({ policy: { subject: "", domain: "", object: "", action: "", deny: false, remove: false } })), "3200");
  assert.equal(toHex(encodeTxBody({ chainId: "", nonce: 0n, validUntilHeight: 0n, ops: [] })), "");
});

test("proto: repeated strings keep empty elements; negative int64 takes 10 bytes", () => {
  assert.equal(toHex(encodeOp(ops.addOrg("o", ["", "a"]))), "52080a016f1200120161");
  const op = encodeOp(ops.addOrg("o", ["", "a"]));
  assert.deepEqual(decodeOp(op), ops.addOrg("o", ["", "a"]));
  const neg = encodeOp(ops.addValidator(new Uint8Array(32).fill(1), -1, ""));
  assert.deepEqual(decodeOp(neg), ops.addValidator(new Uint8Array(32).fill(1), -1, ""));
  assert.ok(toHex(neg).includes("10ffffffffffffffffff01"));
});

test("proto: ops from field 16 on take a two-byte tag; an empty one is still written", () => {
  assert.equal(toHex(encodeOp(ops.setSnapshotInterval(0))), "820100");
  assert.equal(toHex(encodeOp(ops.gtxDeadline("g"))), "c20103" + "0a0167");
  assert.equal(toHex(encodeOp(ops.setRetention(0, 0))), "7200");
  assert.deepEqual(decodeOp(Uint8Array.of(0x82, 0x01, 0x00)), { setSnapshotInterval: { snapshotInterval: 0n } });
});

test("proto: an op this SDK does not know is a DecodeError naming its field", () => {
  // Op field 25 (not in tx.proto's oneof), holding an empty message, as the body's only op.
  const body = encodeTxBody(newTxBody("c", [ops.put("k", "v")], { nonce: 5, validUntilHeight: 9 }));
  const head = body.subarray(0, body.indexOf(0x22));
  const unknown = Uint8Array.from([...head, 0x22, 0x03, 0xca, 0x01, 0x00]);
  assert.throws(() => decodeOp(Uint8Array.of(0xca, 0x01, 0x00)), (e: Error) => e instanceof DecodeError && /Op: unknown field 25/.test(e.message));
  assert.throws(() => decodeTxBody(unknown), (e: Error) => e instanceof DecodeError && /unknown field 25/.test(e.message));
  // Fields 17-19 are not ops either.
  assert.throws(() => decodeOp(Uint8Array.of(0x8a, 0x01, 0x00)), /unknown field 17/);
});

test("proto: gtx ops round-trip; enums and uint32 fields are range-checked", () => {
  const begin = ops.beginGtx({
    gid: "t-1", mode: GtxMode.TCC, deadlineUnixMs: 1735689660000n,
    branches: [{ participant: "p", try: Uint8Array.of(1), confirm: new Uint8Array(), cancel: Uint8Array.of(3), action: new Uint8Array(), compensate: new Uint8Array() }, { participant: "", action: new Uint8Array(), compensate: new Uint8Array(), try: new Uint8Array(), confirm: new Uint8Array(), cancel: new Uint8Array() }],
    commitWrites: [{ key: "k", value: new Uint8Array(), delete: true }],
  });
  assert.deepEqual(decodeOp(encodeOp(begin)), begin);
  // The empty second branch is written (non-nullable repeated message).
  assert.ok(toHex(encodeOp(begin)).includes("1a00"));
  const ans = ops.gtxAnswer({ gid: "t-1", branch: 0, op: GtxOp.CANCEL, attempt: 3, status: GtxStatus.FAILED, result: new Uint8Array(), pubKey: new Uint8Array(32), signature: new Uint8Array(64) });
  assert.deepEqual(decodeOp(encodeOp(ans)), ans);
  assert.throws(() => encodeOp(ops.gtxAnswer({ gid: "g", branch: -1, op: 1, attempt: 1, status: 1, result: new Uint8Array(), pubKey: new Uint8Array(), signature: new Uint8Array() })), RangeError);
  assert.throws(() => encodeOp(ops.beginGtx({ gid: "g", mode: 2 ** 31, branches: [], deadlineUnixMs: 1n, commitWrites: [] })), RangeError);
});

test("tx: governance ops are the ones types.IsGovOp names", () => {
  const gov = [ops.addValidator(new Uint8Array(32), 1, "o"), ops.removeValidator(new Uint8Array(32)), ops.addOrg("o", []), ops.removeOrg("o"),
    ops.setRetention(1, 0), ops.auditAnchor(1, new Uint8Array(32)), ops.setSnapshotInterval(5)];
  for (const op of gov) assert.ok(isGovOp(op), JSON.stringify(Object.keys(op)));
  for (const op of [ops.put("k", "v"), ops.registerNode("a".repeat(40), "o"), ops.gtxDeadline("g"), ops.removeParticipant("p")]) assert.equal(isGovOp(op), false);
});

test("proto: the decoder refuses non-canonical bytes", () => {
  const body = encodeTxBody(newTxBody("c", [ops.put("k", "v")], { nonce: 5, validUntilHeight: 9 }));
  assert.ok(isCanonical(body, decodeTxBody, encodeTxBody));
  const withDefault = Uint8Array.from([...body.subarray(0, 3), 0x10, 0x00, ...body.subarray(3)]); // nonce field written twice
  assert.equal(isCanonical(withDefault, decodeTxBody, encodeTxBody), false);
  assert.equal(isCanonical(Uint8Array.from([...body, 0x30, 0x01]), decodeTxBody, encodeTxBody), false, "unknown field");
  assert.equal(isCanonical(body.subarray(0, body.length - 1), decodeTxBody, encodeTxBody), false, "truncated");
});

test("tx: signatures are sorted by public key; a signer may sign once", async () => {
  const a = Key.generate();
  const b = Key.generate();
  const body = newTxBody("c", [ops.removeOrg("x")], { validUntilHeight: 10 });
  const t1 = await signTx(body, [a, b]);
  const t2 = await signTx(body, [b, a]);
  assert.equal(toHex(t1.bytes), toHex(t2.bytes));
  decodeTxCanonical(t1.bytes);
  await assert.rejects(signTx(body, [a, a]), /twice/);
  assert.notEqual(body.nonce, 0n);
  const rev = encodeTx({ bodyBytes: t1.bodyBytes, signatures: [...t1.signatures].reverse() });
  assert.throws(() => decodeTxCanonical(rev), /ascending/);
});

test("keys: the key file round-trips", () => {
  const k = Key.generate();
  const k2 = Key.fromKeyFile(k.toKeyFile());
  assert.equal(k2.address, k.address);
  const f = JSON.parse(k.toKeyFile());
  f.address = "00".repeat(20);
  assert.throws(() => Key.fromKeyFile(f), /does not match/);
});

test("versions, event ids, uvarint, Go JSON strings", () => {
  assert.equal(versionText(parseVersion("12.3")), "12.3");
  assert.equal(versionText(parseVersion("0")), "0");
  assert.throws(() => parseVersion("0.1"));
  assert.equal(eventIdText(parseEventId("7")), "7");
  assert.ok(compareEventPos(parseEventId("7.9.9"), parseEventId("7")) < 0, "a checkpoint follows its block's writes");
  assert.ok(compareEventPos(parseEventId("7"), parseEventId("8.0.0")) < 0);
  assert.equal(toHex(uvarint(300)), "ac02");
  assert.equal(toHex(uvarint((1n << 64n) - 1n)), "ffffffffffffffffff01");
  assert.equal(goJSONString("a<b>&c\u2028\"\n"), '"a\\u003cb\\u003e\\u0026c\\u2028\\"\\n"');
});
