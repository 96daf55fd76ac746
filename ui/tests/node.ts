// A real dstt node for the browser tests: `dstt start --dev` in a temporary
// home on free loopback ports (the binary: $DSTT_BIN, else bin/dstt of the
// repository, `make build`), and the CLI against it. Always stopped.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePorts } from "../../sdk/ts/test/harness.ts";

export const repoRoot = fileURLToPath(new URL("../..", import.meta.url));

export interface DevNode {
  url: string;
  home: string;
  /** The dev key file (HOME/keyring/test/dev.key), which the CLI signs with. */
  keyFile: string;
  /** Runs the dstt CLI against this node; returns its output. */
  cli(...args: string[]): string;
  /** The latest committed height. */
  height(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Starts a node: `dstt start --dev`, or with org, a chain whose genesis
 * makes the key "dev" (test keyring) its admin and the admin of member org
 * `org` (what registering gtx participants needs).
 */
export async function startDevNode(o: { org?: string } = {}): Promise<DevNode> {
  const bin = process.env["DSTT_BIN"] || join(repoRoot, "bin", "dstt");
  if (!existsSync(bin)) throw new Error(`no dstt binary at ${bin}: run \`make build\` (or set DSTT_BIN)`);
  const home = mkdtempSync(join(tmpdir(), "dstt-ui-"));
  const [rest, rpc, p2p, metrics] = (await freePorts(4)) as [number, number, number, number];
  if (o.org) {
    const run = (...a: string[]): string => execFileSync(bin, [...a, "--home", home], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    run("keys", "add", "dev", "--keyring-backend", "test");
    const addr = (JSON.parse(run("keys", "show", "dev", "--keyring-backend", "test", "-o", "json")) as { address: string }).address;
    run("init", "--chain-id", "dstt-dev", "--admin", addr, "--rpc-laddr", `tcp://127.0.0.1:${rpc}`, "--p2p-laddr", `tcp://127.0.0.1:${p2p}`);
    const gen = join(home, "config", "genesis.json");
    const g = JSON.parse(readFileSync(gen, "utf8"));
    g.app_state.orgs = [{ id: o.org, admins: [addr] }];
    g.app_state.threshold = 1;
    writeFileSync(gen, JSON.stringify(g, null, 2));
    // The CLI's defaults for this home, as a dev home has them.
    const cj = join(home, "config", "client.json");
    writeFileSync(cj, JSON.stringify({ ...JSON.parse(readFileSync(cj, "utf8")), keyring_backend: "test", from: "dev" }, null, 2));
  }
  const child: ChildProcess = spawn(
    bin,
    ["start", ...(o.org ? [] : ["--dev"]), "--home", home, "--rest-laddr", `127.0.0.1:${rest}`, "--rpc-laddr", `tcp://127.0.0.1:${rpc}`, "--p2p-laddr", `tcp://127.0.0.1:${p2p}`, "--rest-metrics-laddr", `127.0.0.1:${metrics}`, "--log-level", "error"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  let exited: number | null | undefined;
  const exit = new Promise<void>((r) => child.once("exit", (code) => ((exited = code), r())));
  const stop = async (): Promise<void> => {
    if (exited === undefined) {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exit;
      clearTimeout(t);
    }
    rmSync(home, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${rest}`;
  const status = async (): Promise<number> => {
    const r = await fetch(url + "/v1/status", { signal: AbortSignal.timeout(2000) });
    return ((await r.json()) as { latest_height: number }).latest_height;
  };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`dstt start exited with ${exited}:\n${out.slice(-4000)}`);
    }
    try {
      if ((await status()) >= 1) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the node's gateway at ${url} did not answer in time:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    home,
    keyFile: join(home, "keyring", "test", "dev.key"),
    cli: (...args) => execFileSync(bin, [...args, "--home", home], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
    height: status,
    stop,
  };
}
