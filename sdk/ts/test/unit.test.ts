// Pure tests of the encoding rules and helpers (no node).

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  Key,
  decodeOp,
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
