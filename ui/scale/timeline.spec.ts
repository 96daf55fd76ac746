// 100,000 versions of one key (100 txs a request, 1,000 a block at most):
// how long the explorer takes to load the key's timeline, that only the
// rows in view exist, and that the slider and scrolling answer at once.
// Prints the figures docs/EXPLORER.md quotes. Needs the SDK built
// (cd sdk/ts && npm run build) and bin/dstt.
import { expect, test } from "@playwright/test";
import { type DevNode, startDevNode } from "../tests/node";
// @ts-ignore: the SDK's build output (sdk/ts/dist), plain ESM
import { Client, Key, ops } from "../../sdk/ts/dist/src/index.js";

const VERSIONS = Number(process.env["VERSIONS"] || 100_000);
let node: DevNode;

test.beforeAll(async () => {
  node = await startDevNode();
});
test.afterAll(async () => {
  await node?.stop();
});

test(`a key with ${VERSIONS} versions`, async ({ page }) => {
  const { readFileSync } = await import("node:fs");
  const key = Key.fromKeyFile(readFileSync(node.keyFile, "utf8"));
  const c = new Client({ url: node.url, signer: key, chainId: "dstt-dev" });
  const t0 = Date.now();
  const PER_REQUEST = 1000;
  for (let done = 0; done < VERSIONS; ) {
    const n = Math.min(PER_REQUEST, VERSIONS - done);
    const until = BigInt((await c.latestHeight()) + 900);
    const txs = await Promise.all(Array.from({ length: n }, (_, i) => c.buildTx([ops.put("hot/k", String(done + i))], { validUntilHeight: until })));
    const res = await c.submit(txs, { mode: "commit", timeoutMs: 120_000 });
    if (res.committed !== n) throw new Error(`committed ${res.committed} of ${n}: ${JSON.stringify(res.results.find((r: { status: string }) => r.status !== "committed"))}`);
    done += n;
  }
  console.log(`wrote ${VERSIONS} versions in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  await page.goto(`${node.url}/ui/#/session`);
  await page.getByTestId("key-file").setInputFiles(node.keyFile);
  const t1 = Date.now();
  await page.goto(`${node.url}/ui/#/key/${encodeURIComponent("hot/k")}`);
  await expect(page.getByTestId("index-ready")).toContainText(`${VERSIONS} versions`, { timeout: 10 * 60_000 });
  console.log(`timeline of ${VERSIONS} versions loaded in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  expect(await page.locator("[data-version]").count()).toBeLessThan(100);
  const t2 = Date.now();
  await page.locator(".vlist").evaluate((el) => (el.scrollTop = el.scrollHeight));
  await expect(page.locator(".vrow").last()).toContainText("0");
  await page.getByTestId("height-slider").fill("5");
  await expect(page.getByTestId("value")).toBeVisible();
  console.log(`scroll to the oldest version and a slider move: ${Date.now() - t2} ms`);
});
