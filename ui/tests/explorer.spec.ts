// The explorer in Debian's Chromium against a real dev node: a protected key
// refused without a key and shown with one (loaded from the dev key file),
// the height slider showing an old value, the tx that wrote it with its
// audit entry verified up to the validators' signed commit, a new write
// appearing live, and every view. Screenshots of each view go to
// docs/explorer/ with UPDATE_SCREENSHOTS=1 (make ui-screenshots), else to
// test-results/.
import { expect, type Page, test } from "@playwright/test";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type DevNode, repoRoot, startDevNode } from "./node";

const shots = process.env["UPDATE_SCREENSHOTS"] ? join(repoRoot, "docs", "explorer") : join(repoRoot, "ui", "test-results", "screenshots");

async function shot(page: Page, name: string): Promise<void> {
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

/** The height a CLI tx committed at ("committed tx HASH at height H"). */
function committedAt(out: string): { hash: string; height: number } {
  const m = /committed tx ([0-9A-F]{64}) at height (\d+)/.exec(out);
  if (!m) throw new Error(`not a committed tx: ${out}`);
  return { hash: m[1] as string, height: Number(m[2]) };
}

test.describe.configure({ mode: "serial" });

let node: DevNode;
let first: { hash: string; height: number };
let second: { hash: string; height: number };

test.beforeAll(async () => {
  node = await startDevNode();
  first = committedAt(node.cli("tx", "put", "acct/1", "100"));
  node.cli("tx", "put", "acct/2", "50");
  second = committedAt(node.cli("tx", "put", "acct/1", "90"));
  node.cli("rbac", "allow", "anyone", "read", "pub/*");
  node.cli("tx", "put", "pub/greeting", "hello");
});

test.afterAll(async () => {
  await node?.stop();
});

test("a protected key is refused without a key and shown with one", async ({ page }) => {
  await page.goto(`${node.url}/ui/#/key/${encodeURIComponent("acct/1")}`);
  await expect(page.getByRole("alert")).toContainText("UNAUTHORIZED");
  await shot(page, "refused");

  // An open key reads without a key.
  await page.goto(`${node.url}/ui/#/key/${encodeURIComponent("pub/greeting")}`);
  await expect(page.getByTestId("value")).toHaveText("hello");

  // Load the dev key file: the same read is signed and served. No request
  // of the page carries the key's seed (it signs in the page).
  const seed = (JSON.parse(readFileSync(node.keyFile, "utf8")) as { seed: string }).seed;
  const seedHex = Buffer.from(seed, "base64").toString("hex");
  const sent: string[] = [];
  page.on("request", (r) => sent.push(r.url() + JSON.stringify(r.headers()) + (r.postData() ?? "")));
  await page.goto(`${node.url}/ui/#/session`);
  await page.getByTestId("key-file").setInputFiles(node.keyFile);
  await expect(page.getByTestId("reader-address")).toHaveText(/^[0-9a-f]{40}$/);
  await shot(page, "session");
  await page.goto(`${node.url}/ui/#/key/${encodeURIComponent("acct/1")}`);
  await expect(page.getByTestId("value")).toHaveText("90");
  expect(sent.some((r) => r.includes("Dstt-Query"))).toBe(true);
  expect(sent.filter((r) => r.includes(seed) || r.toLowerCase().includes(seedHex))).toEqual([]);
});

async function withKey(page: Page): Promise<void> {
  await page.goto(`${node.url}/ui/#/session`);
  await page.getByTestId("key-file").setInputFiles(node.keyFile);
  await expect(page.getByTestId("reader-address")).toBeVisible();
}

test("the height slider shows the old value, the tx that wrote it, its audit entry verified", async ({ page }) => {
  await withKey(page);
  await page.goto(`${node.url}/ui/#/keys?prefix=acct%2F`);
  await expect(page.getByTestId("index-ready")).toBeVisible();
  const row = page.locator('.keyrow[data-key="acct/1"]');
  await expect(row.getByTestId("value")).toHaveText("90");
  await shot(page, "keys");

  // The whole prefix as of the first write's height.
  await page.getByTestId("height-slider").fill(String(first.height));
  await expect(row.getByTestId("value")).toHaveText("100");
  await expect(page.getByTestId("key-count")).toHaveText(`1 keys as of height ${first.height}`);

  // Open the key at that height: its old value and its timeline.
  await row.locator("a").first().click();
  await expect(page.getByTestId("key-name")).toHaveText("acct/1");
  await expect(page.getByTestId("value")).toHaveText("100");
  await expect(page.locator("[data-version]")).toHaveCount(2);
  await page.getByTestId("height-slider").fill(String(second.height));
  await expect(page.getByTestId("value")).toHaveText("90");
  await page.getByTestId("height-slider").fill(String(first.height));
  await expect(page.getByTestId("value")).toHaveText("100");
  await shot(page, "key");

  // The tx that wrote it: ops, signer, result, its audit entry verified.
  await page.getByTestId("writer-tx").click();
  await expect(page.getByTestId("tx-hash")).toHaveText(first.hash);
  await expect(page.getByTestId("ops")).toContainText("acct/1");
  await expect(page.getByTestId("ops")).toContainText("100");
  await expect(page.getByTestId("audit-entry")).toContainText("tx_committed");
  const v = page.getByTestId("verification");
  await expect(v).toHaveAttribute("data-ok", "true");
  await expect(v).toContainText("validators' signatures");
  await expect(v).toContainText("checked in this browser");
  await shot(page, "tx");
});

test("a new write appears live", async ({ page }) => {
  await withKey(page);
  await page.goto(`${node.url}/ui/#/live?prefix=acct%2F`);
  await expect(page.getByTestId("live-state")).toHaveAttribute("data-live", "true");
  node.cli("tx", "put", "acct/3", "live!");
  const li = page.locator('.feed li[data-key="acct/3"]');
  await expect(li).toContainText("live!");
  await shot(page, "live");
});

test("blocks, a block, the audit log verified, diff, validators and policy", async ({ page }) => {
  await withKey(page);
  await page.goto(`${node.url}/ui/#/blocks`);
  await expect(page.getByTestId("blocks")).toContainText(String(first.height));
  await shot(page, "blocks");
  await page.goto(`${node.url}/ui/#/block/${second.height}`);
  await expect(page.getByTestId("block-txs")).toContainText(second.hash.slice(0, 16));
  await expect(page.getByTestId("verification")).toHaveAttribute("data-ok", "true");
  await shot(page, "block");
  await page.goto(`${node.url}/ui/#/audit`);
  await expect(page.getByTestId("audit-entries")).toContainText("tx_committed");
  await expect(page.getByTestId("verification")).toHaveAttribute("data-ok", "true");
  await shot(page, "audit");
  await page.goto(`${node.url}/ui/#/diff?prefix=acct%2F&from=${first.height}&to=${second.height}`);
  await expect(page.getByTestId("diff-count")).toHaveText(`2 keys differ between height ${first.height} and height ${second.height}`);
  await shot(page, "diff");
  await page.goto(`${node.url}/ui/#/gov`);
  await expect(page.getByTestId("validators")).toContainText("10");
  await expect(page.getByTestId("policy")).toContainText("pub/*");
  await shot(page, "gov");
});

test("10,000 keys: the list renders only the rows in view and scrolls to the last key", async ({ page }) => {
  // Ten txs of 1,000 puts each (the chain's default limit is 1,024 ops a tx).
  for (let t = 0; t < 10; t++) {
    const file = join(node.home, `batch-${t}.json`);
    const opsList = Array.from({ length: 1000 }, (_, i) => ({ put: { key: `many/${String(t * 1000 + i).padStart(5, "0")}`, value: `v${t * 1000 + i}` } }));
    writeFileSync(file, JSON.stringify({ ops: opsList }));
    node.cli("tx", "batch", file);
  }
  await withKey(page);
  await page.goto(`${node.url}/ui/#/keys?prefix=many%2F`);
  await expect(page.getByTestId("index-ready")).toContainText("10000 keys");
  await expect(page.getByTestId("key-count")).toContainText("10000 keys as of height");
  expect(await page.locator(".keyrow").count()).toBeLessThan(100);
  await page.locator(".vlist").evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(page.locator('.keyrow[data-key="many/09999"]')).toContainText("v9999");
  expect(await page.locator(".keyrow").count()).toBeLessThan(100);
});
