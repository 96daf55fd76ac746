// src/openapi.ts is generated from transport/rest/openapi.json by
// openapi-typescript and committed; this test regenerates it and fails when
// the committed file does not match its source. Fix: `npm run gen:openapi`.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

test("openapi: src/openapi.ts matches transport/rest/openapi.json", () => {
  const dir = mkdtempSync(join(tmpdir(), "dstt-openapi-"));
  try {
    const out = join(dir, "openapi.ts");
    execFileSync(process.execPath, [join(pkg, "node_modules", "openapi-typescript", "bin", "cli.js"), join("..", "..", "transport", "rest", "openapi.json"), "-o", out], {
      cwd: pkg,
      stdio: ["ignore", "ignore", "pipe"],
    });
    const want = readFileSync(out, "utf8");
    const got = readFileSync(join(pkg, "src", "openapi.ts"), "utf8");
    assert.ok(got === want, "sdk/ts/src/openapi.ts is stale: transport/rest/openapi.json changed; run `npm run gen:openapi` in sdk/ts and commit the result");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
