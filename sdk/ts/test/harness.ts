// Starts a real dstt node for the integration tests: `dstt init` with the
// given admin and chain id in a temporary home, then `dstt start` on free
// loopback ports. The binary is $DSTT_BIN, else bin/dstt of the repository
// (`make build`); without it the tests fail, they do not skip.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");

export interface TestNode {
  url: string;
  home: string;
  chainId: string;
  /** The node's output so far (stdout and stderr). */
  log(): string;
  stop(): Promise<void>;
}

/** n free loopback TCP ports. */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      await new Promise<void>((res, rej) => s.once("error", rej).listen(0, "127.0.0.1", () => res()));
      servers.push(s);
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});

export async function startNode(o: { admins: string[]; chainId: string; timeoutMs?: number }): Promise<TestNode> {
  const bin = process.env["DSTT_BIN"] || join(repoRoot, "bin", "dstt");
  if (!existsSync(bin)) throw new Error(`no dstt binary at ${bin}: run \`make build\` (or set DSTT_BIN)`);
  const home = mkdtempSync(join(tmpdir(), "dstt-ts-"));
  const [rest, rpc, p2p, metrics] = (await freePorts(4)) as [number, number, number, number];
  const rpcAddr = `tcp://127.0.0.1:${rpc}`;
  const p2pAddr = `tcp://127.0.0.1:${p2p}`;
  execFileSync(bin, ["init", "--home", home, "--chain-id", o.chainId, "--rpc-laddr", rpcAddr, "--p2p-laddr", p2pAddr, ...o.admins.flatMap((a) => ["--admin", a])], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let out = "";
  const child = spawn(
    bin,
    ["start", "--home", home, "--rest-laddr", `127.0.0.1:${rest}`, "--rpc-laddr", rpcAddr, "--p2p-laddr", p2pAddr, "--rest-metrics-laddr", `127.0.0.1:${metrics}`, "--log-level", "error"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  live.add(child);
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  let exited: number | null | undefined;
  const exit = new Promise<void>((r) => child.once("exit", (code) => ((exited = code), live.delete(child), r())));

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
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`dstt start exited with ${exited} before its gateway was up:\n${out.slice(-4000)}`);
    }
    try {
      const r = await fetch(url + "/v1/status", { signal: AbortSignal.timeout(2000) });
      if (r.ok && ((await r.json()) as { latest_height?: number }).latest_height! >= 1) break;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the node's gateway at ${url} did not answer in time:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, home, chainId: o.chainId, log: () => out, stop };
}
