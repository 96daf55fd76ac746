// The tx page shows every kind of op, against a real node whose genesis has
// a member org (threshold 1): governance proposals (set-snapshot-interval,
// set-retention, an audit anchor) signed and submitted through the CLI, a
// node registered, a gtx participant registered and a gtx begun; and a tx
// whose body the explorer cannot decode (an op field it does not know)
// shows why instead of loading forever.
import { expect, type Page, test } from "@playwright/test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type DevNode, startDevNode } from "./node";

test.describe.configure({ mode: "serial" });

let node: DevNode;

test.beforeAll(async () => {
  node = await startDevNode({ org: "bank1" });
});
test.afterAll(async () => {
  await node?.stop();
});

/** The hash of the tx a CLI command committed ("committed tx HASH at height H"). */
function committed(out: string): string {
  const m = /committed tx ([0-9A-F]{64}) at height \d+/.exec(out);
  if (!m) throw new Error(`not a committed tx: ${out}`);
  return m[1] as string;
}

/** Proposes a governance op (the CLI command that writes the proposal), signs it as dev (an admin of bank1; k is 1) and submits it. */
function gov(name: string, ...propose: string[]): string {
  const prop = join(node.home, `${name}.json`);
  node.cli(...propose, "-f", prop);
  node.cli("gov", "sign", prop, "--from", "dev");
  return committed(node.cli("gov", "submit", prop));
}

async function withKey(page: Page): Promise<void> {
  await page.goto(`${node.url}/ui/#/session`);
  await page.getByTestId("key-file").setInputFiles(node.keyFile);
  await expect(page.getByTestId("reader-address")).toBeVisible();
}

async function opsOf(page: Page, hash: string) {
  await page.goto(`${node.url}/ui/#/tx/${hash}`);
  await expect(page.getByTestId("tx-hash")).toHaveText(hash);
  return page.getByTestId("ops");
}

let nodeTx = "";

test("governance, node and gtx ops show on the tx page", async ({ page }) => {
  const snapshot = gov("snapshot", "gov", "propose", "set-snapshot-interval", "5");
  const retention = gov("retention", "gov", "propose", "set-retention", "--heights", "1000", "--seconds", "0");
  const nodeID = "ab".repeat(20);
  nodeTx = committed(node.cli("node", "register", nodeID, "--org", "bank1"));
  const pub = (JSON.parse(node.cli("keys", "show", "dev", "-o", "json")) as { pub_key: string }).pub_key;
  const participant = committed(node.cli("gtx", "participant", "register", "bank1-ledger", "--org", "bank1", "--pub-key", pub, "--endpoint", "http://127.0.0.1:9/ledger"));
  const file = join(node.home, "gtx.json");
  writeFileSync(file, JSON.stringify({ gid: "t-2001", mode: "saga", deadline: "1h", branches: [{ participant: "bank1-ledger", action: { debit: 7 }, compensate: { credit: 7 } }], commit_writes: [{ key: "transfers/t-2001", value: "done" }] }));
  const begin = committed(node.cli("gtx", "begin", file));
  // An audit anchor at the last entry of an export (no pruning).
  const exp = join(node.home, "audit.jsonl");
  node.cli("audit", "export", "--format", "json", "--out", exp);
  const entries = readFileSync(exp, "utf8").trim().split("\n");
  const last = JSON.parse(entries[entries.length - 1] as string) as { hash: string };
  const anchor = gov("anchor", "audit", "anchor", "--export", exp);

  await withKey(page);
  let ops = await opsOf(page, snapshot);
  await expect(ops).toContainText("set snapshot interval");
  await expect(ops).toContainText("every 5 heights");
  ops = await opsOf(page, retention);
  await expect(ops).toContainText("set retention");
  await expect(ops).toContainText("retain 1000 heights, 0 seconds");
  ops = await opsOf(page, nodeTx);
  await expect(ops).toContainText("register node");
  await expect(ops).toContainText(nodeID);
  await expect(ops).toContainText("org bank1");
  ops = await opsOf(page, participant);
  await expect(ops).toContainText("register participant");
  await expect(ops).toContainText("bank1-ledger");
  await expect(ops).toContainText("http://127.0.0.1:9/ledger");
  ops = await opsOf(page, begin);
  await expect(ops).toContainText("begin gtx");
  await expect(ops).toContainText("saga");
  await expect(ops).toContainText('action {"debit":7}');
  await expect(ops).toContainText("transfers/t-2001");
  await ops.getByRole("link", { name: "t-2001", exact: true }).click();
  await expect(page.getByTestId("gid")).toHaveText("t-2001");
  ops = await opsOf(page, anchor);
  await expect(ops).toContainText("audit anchor");
  await expect(ops).toContainText(`entry #${entries.length}`);
  await expect(ops).toContainText(`hash ${last.hash}`);
  await expect(ops).toContainText("prune nothing");
});

test("a tx whose ops cannot be decoded shows the error, not a loading page", async ({ page }) => {
  // The gateway's answer for the tx's bytes, with the body replaced by one
  // holding a single op of field 25 (no op this explorer knows): 22 03 ca 01 00.
  await page.route(/\/v1\/txs\/[0-9A-Fa-f]+\/raw/, async (route) => {
    const resp = await route.fetch();
    const json = (await resp.json()) as { tx: string };
    json.tx = Buffer.from([0x0a, 0x05, 0x22, 0x03, 0xca, 0x01, 0x00]).toString("base64");
    await route.fulfill({ response: resp, json });
  });
  await withKey(page);
  await page.goto(`${node.url}/ui/#/tx/${nodeTx}`);
  await expect(page.getByRole("alert")).toContainText("unknown field 25");
  await expect(page.getByText("Loading its ops")).toHaveCount(0);
  await expect(page.getByTestId("ops")).toHaveCount(0);
});
