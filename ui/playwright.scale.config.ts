// The explorer at scale (make ui-scale; not part of make test: it writes
// 100,000 versions first): see scale/timeline.spec.ts.
import base from "./playwright.config";
import { defineConfig } from "@playwright/test";

export default defineConfig({ ...base, testDir: "scale", timeout: 15 * 60_000 });
