// Builds the explorer into dist/ (committed; embedded by the Go package ui
// and served by the gateway at /ui/). The SDK is bundled from its sources
// (../sdk/ts/src), its @noble dependencies from this package's lock.
//
// The stamp plugin writes build.json beside the output directory: every
// source file the bundle was made from (the modules Vite bundled, outside
// node_modules, and the build's own configuration and lock) and every file
// it produced, each with its SHA-256. ui_test.go checks both against the
// repository; scripts/check.mjs rebuilds and compares byte for byte.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const repo = here("..");
const CONFIG_FILES = ["ui/index.html", "ui/package.json", "ui/package-lock.json", "ui/vite.config.ts", "ui/tsconfig.json"];

function sha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : [join(dir, d.name)]));
}

function posix(p: string): string {
  return p.split(sep).join("/");
}

function stamp(): Plugin {
  let modules: string[] = [];
  let outDir = "";
  return {
    name: "dstt-stamp",
    apply: "build",
    configResolved(c) {
      outDir = resolve(c.root, c.build.outDir);
    },
    generateBundle() {
      modules = [...this.getModuleIds()].filter((id) => id.startsWith(repo) && !id.includes(`${sep}node_modules${sep}`) && !id.includes("\0")).map((id) => posix(relative(repo, id.split("?")[0] as string)));
    },
    closeBundle() {
      const sources = [...new Set([...modules, ...CONFIG_FILES])].sort();
      const dist = walk(outDir).map((f) => posix(relative(outDir, f))).sort();
      const out = {
        comment: "Written by `npm run build` in ui/ (vite.config.ts): the sources of ui/dist and its files, with SHA-256. Checked by ui/ui_test.go.",
        sources: Object.fromEntries(sources.map((f) => [f, sha256(join(repo, f))])),
        dist: Object.fromEntries(dist.map((f) => [f, sha256(join(outDir, f))])),
      };
      writeFileSync(join(dirname(outDir), "build.json"), JSON.stringify(out, null, 2) + "\n");
    },
  };
}

export default defineConfig({
  base: "/ui/",
  root: here("."),
  logLevel: "warn",
  resolve: {
    alias: [
      { find: "@dstt/sdk", replacement: here("../sdk/ts/src/index.ts") },
      { find: /^@noble\/(curves|hashes)\/(.*)$/, replacement: here("./node_modules/@noble/$1/$2") },
      { find: /^node:(fs\/promises|path)$/, replacement: here("./src/shims/node.ts") },
    ],
  },
  plugins: [stamp()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false,
    modulePreload: { polyfill: false },
    reportCompressedSize: false,
  },
});
