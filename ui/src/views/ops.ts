// One op of a tx as a row of the tx page's ops table: the op's name, its
// target (a key, subject, node, org, participant or gtx) and its value.

import { type BeginGtx, type GtxAnswer, GtxMode, GtxOp, GtxStatus, type Op, address, isUtf8, toHex } from "@dstt/sdk";
import { h, link, routes, short, when } from "../dom";

export function text(b: Uint8Array): string {
  return isUtf8(b) ? new TextDecoder().decode(b) : "0x" + toHex(b);
}

/** An enum number's name from the SDK's constants (GTX_OP_COMPENSATE → "compensate"), else the number. */
function enumName(e: Record<string, number>, n: number): string {
  const k = Object.entries(e).find(([, v]) => v === n)?.[0];
  return k && n !== 0 ? k.toLowerCase() : `${n} (unknown)`;
}

/** A block time in Unix milliseconds, for people. */
function unixMs(ms: bigint): string {
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? `${ms} ms` : when(d.toISOString());
}

function gtxLink(gid: string): HTMLElement {
  return link(routes.gtx(gid), h("code", {}, gid));
}

function beginGtx(g: BeginGtx): HTMLElement {
  const payloads = (b: BeginGtx["branches"][number]): string =>
    (["action", "compensate", "try", "confirm", "cancel"] as const)
      .filter((k) => (b[k] ?? new Uint8Array()).length > 0)
      .map((k) => `${k} ${text(b[k] as Uint8Array)}`)
      .join(", ");
  return h(
    "div",
    {},
    `${enumName(GtxMode, g.mode)}, deadline ${unixMs(g.deadlineUnixMs)}`,
    h("ul", { class: "branches" }, g.branches.map((b, i) => h("li", {}, `branch ${i}: `, h("code", {}, b.participant), payloads(b) ? ` — ${payloads(b)}` : ""))),
    g.commitWrites.length === 0
      ? null
      : h("ul", { class: "commit-writes" }, g.commitWrites.map((w) => h("li", {}, "on commit: ", w.delete ? "delete " : "put ", link(routes.key(w.key), h("code", {}, w.key)), w.delete ? "" : ` = ${text(w.value)}`))),
  );
}

function gtxAnswer(a: GtxAnswer): string {
  const result = a.result.length > 0 ? `, result ${text(a.result)}` : "";
  return `branch ${a.branch} ${enumName(GtxOp, a.op)}, attempt ${a.attempt}: ${enumName(GtxStatus, a.status)}${result}; signed by participant key ${short(toHex(a.pubKey), 16)}`;
}

/** The name, target and value cells of an op. */
function opCells(op: Op): [string, string | Node, string | Node] {
  if ("put" in op) return ["put", link(routes.key(op.put.key), h("code", {}, op.put.key)), text(op.put.value)];
  if ("delete" in op) return ["delete", link(routes.key(op.delete.key), h("code", {}, op.delete.key)), ""];
  if ("check" in op) return ["check", link(routes.key(op.check.key), h("code", {}, op.check.key)), `version ${op.check.version.height}.${op.check.version.txIndex}`];
  if ("grant" in op) return ["grant", op.grant.subject, `${op.grant.role} in ${op.grant.domain}`];
  if ("revoke" in op) return ["revoke", op.revoke.subject, `${op.revoke.role} in ${op.revoke.domain}`];
  if ("policy" in op) return ["policy", op.policy.subject, JSON.stringify(op.policy)];
  if ("rotateKey" in op) return ["rotate key", address(op.rotateKey.newPubKey), ""];
  if ("addValidator" in op) return ["add validator", toHex(op.addValidator.pubKey), `power ${op.addValidator.power}, org ${op.addValidator.org}`];
  if ("removeValidator" in op) return ["remove validator", toHex(op.removeValidator.pubKey), ""];
  if ("addOrg" in op) return ["add org", op.addOrg.id, op.addOrg.admins.join(", ")];
  if ("removeOrg" in op) return ["remove org", op.removeOrg.id, ""];
  if ("registerNode" in op) return ["register node", h("code", {}, op.registerNode.nodeId), `org ${op.registerNode.org}`];
  if ("removeNode" in op) return ["remove node", h("code", {}, op.removeNode.nodeId), `org ${op.removeNode.org}`];
  if ("setRetention" in op) {
    const r = op.setRetention;
    return ["set retention", "", `retain ${r.retainHeights} heights, ${r.retainSeconds} seconds${r.retainHeights === 0n && r.retainSeconds === 0n ? " (0 and 0: keep every version)" : ""}`];
  }
  if ("auditAnchor" in op) {
    const a = op.auditAnchor;
    const target = a.seq === 0n ? "no new anchor" : link(routes.audit(Number(a.seq)), `entry #${a.seq}`);
    return ["audit anchor", target, `${a.seq === 0n ? "" : `hash ${toHex(a.hash)}, `}${a.pruneBelow === 0n ? "prune nothing" : `prune below #${a.pruneBelow}`}`];
  }
  if ("setSnapshotInterval" in op) {
    const n = op.setSnapshotInterval.snapshotInterval;
    return ["set snapshot interval", "", n === 0n ? "0 heights: snapshots off" : `every ${n} heights`];
  }
  if ("registerParticipant" in op) {
    const p = op.registerParticipant;
    return ["register participant", h("code", {}, p.id), `org ${p.org}, endpoint ${p.endpoint}, key ${short(toHex(p.pubKey), 16)}`];
  }
  if ("removeParticipant" in op) return ["remove participant", h("code", {}, op.removeParticipant.id), ""];
  if ("beginGtx" in op) return ["begin gtx", gtxLink(op.beginGtx.gid), beginGtx(op.beginGtx)];
  if ("gtxAnswer" in op) return ["gtx answer", gtxLink(op.gtxAnswer.gid), gtxAnswer(op.gtxAnswer)];
  if ("gtxDeadline" in op) return ["gtx deadline", gtxLink(op.gtxDeadline.gid), "roll back if its deadline has passed"];
  return ["?", "", ""];
}

/** One op as a table row. */
export function opRow(op: Op, i: number): HTMLElement {
  return h("tr", {}, h("td", {}, String(i)), ...opCells(op).map((c) => h("td", {}, c)));
}
