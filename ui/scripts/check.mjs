// Rebuilds the explorer from its sources into a temporary directory and
// fails unless the result is byte for byte the committed ui/dist and
// ui/build.json (make test-ui). Fix a failure with `npm run build` in ui/
// and commit ui/dist and ui/build.json.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ui = fileURLToPath(new URL("..", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "dstt-ui-"));
const walk = (d) => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [join(d, e.name)]));
try {
  execFileSync(join(ui, "node_modules", ".bin", "vite"), ["build", "--outDir", join(tmp, "dist"), "--emptyOutDir"], { cwd: ui, stdio: ["ignore", "ignore", "inherit"] });
  const problems = [];
  const files = (d) => walk(d).map((f) => relative(d, f)).sort();
  const want = files(join(tmp, "dist"));
  const have = files(join(ui, "dist"));
  for (const f of new Set([...want, ...have])) {
    if (!want.includes(f)) problems.push(`ui/dist/${f}: committed, but the build does not make it`);
    else if (!have.includes(f)) problems.push(`ui/dist/${f}: the build makes it, but it is not committed`);
    else if (!readFileSync(join(tmp, "dist", f)).equals(readFileSync(join(ui, "dist", f)))) problems.push(`ui/dist/${f}: differs from the build`);
  }
  if (!readFileSync(join(tmp, "build.json")).equals(readFileSync(join(ui, "build.json")))) problems.push("ui/build.json: differs from the build's");
  if (problems.length > 0) {
    console.error("ui: the committed build does not match its sources:\n  " + problems.join("\n  ") + "\nrun `npm run build` in ui/ and commit ui/dist and ui/build.json");
    process.exit(1);
  }
  console.log(`ui: the committed build matches its sources (${want.length} files)`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
