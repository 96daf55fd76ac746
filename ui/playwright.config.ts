// Browser tests of the explorer: Playwright driving Debian's Chromium
// (apt-get install chromium; make test-deps) against a real dstt node that
// the tests start (tests/node.ts). No browser is downloaded.
import { defineConfig } from "@playwright/test";

export default defineConfig({
  testDir: "tests",
  timeout: 90_000,
  expect: { timeout: 20_000 },
  workers: 1,
  fullyParallel: false,
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    viewport: { width: 1280, height: 820 },
    launchOptions: {
      executablePath: process.env["CHROMIUM_BIN"] || "/usr/bin/chromium",
      args: ["--no-sandbox", "--disable-dev-shm-usage"],
    },
    trace: "off",
    screenshot: "only-on-failure",
  },
});
