// The gtx pages against a real node whose genesis has a member org: a
// participant registered, a saga begun that no executor runs, its deadline
// passing (it rolls back), and the list and the gtx's journal in the page.
import { expect, test } from "@playwright/test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type DevNode, repoRoot, startDevNode } from "./node";

const shots = process.env["UPDATE_SCREENSHOTS"] ? join(repoRoot, "docs", "explorer") : join(repoRoot, "ui", "test-results", "screenshots");
let node: DevNode;

test.beforeAll(async () => {
  node = await startDevNode({ org: "bank1" });
});
test.afterAll(async () => {
  await node?.stop();
});

test("a gtx and its journal", async ({ page }) => {
  const pub = (JSON.parse(node.cli("keys", "show", "dev", "-o", "json")) as { pub_key: string }).pub_key;
  node.cli("gtx", "participant", "register", "bank1-ledger", "--org", "bank1", "--pub-key", pub, "--endpoint", "http://127.0.0.1:9/ledger");
  const file = join(node.home, "gtx.json");
  writeFileSync(file, JSON.stringify({ gid: "t-1001", mode: "saga", deadline: "2s", branches: [{ participant: "bank1-ledger", action: { debit: 100 }, compensate: { credit: 100 } }], commit_writes: [{ key: "transfers/t-1001", value: "done" }] }));
  node.cli("gtx", "begin", file);
  await page.goto(`${node.url}/ui/#/session`);
  await page.getByTestId("key-file").setInputFiles(join(node.home, "keyring", "test", "dev.key"));
  await expect(page.getByTestId("reader-address")).toBeVisible();
  await page.goto(`${node.url}/ui/#/gtxs`);
  await expect(page.getByTestId("gtxs")).toContainText("t-1001");
  await expect(page.getByTestId("gtxs")).toContainText("running");

  // Past the deadline (block time), the next block rolls it back.
  await new Promise((r) => setTimeout(r, 2500));
  node.cli("tx", "put", "tick", "1");
  await page.getByRole("link", { name: "t-1001" }).click();
  await expect(page.getByTestId("gid")).toHaveText("t-1001");
  await expect(page.getByTestId("gtx-phase")).toContainText("deadline");
  await expect(page.getByTestId("gtx-steps").locator('tr[data-state="abandoned"]')).toContainText("action");
  await expect(page.getByTestId("gtx")).toContainText("transfers/t-1001");
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, "gtx.png"), fullPage: true });
});
