// A tx: its result (code and reason), its ops and memo (decoded from the
// committed bytes), its signers and the identities they act for, the
// versions it wrote, and its audit entry verified up to the validators'
// signed commit.

import { type AuditEntry, type Tx, type TxBody, address, decodeTx, decodeTxBody, fromBase64, identity, toHex, txBytes } from "@dstt/sdk";
import { badge, errorBox, h, link, loading, mount, routes, when } from "../dom";
import { api } from "../session";
import { findEntry, verifyThrough, type Verification } from "../verify";
import type { View } from "../main";
import { opRow } from "./ops";

/** The verification steps of an audit entry or a range. */
export function verificationBox(v: Verification | undefined, err?: unknown): HTMLElement {
  if (err) return errorBox(err, "verification");
  if (!v) return loading("the verification");
  if (v.ok === undefined) return h("p", { class: "loading", role: "status" }, `Waiting for block ${v.anchor.signed_height}, which signs the state after block ${v.anchor.height}…`);
  return h(
    "div",
    { class: "verify", "data-testid": "verification", "data-ok": String(v.ok) },
    badge(v.ok, v.ok ? "verified" : "NOT verified"),
    h("ul", {}, v.steps.map((s) => h("li", {}, badge(s.ok, s.ok ? "✓" : "✗"), " ", h("strong", {}, s.label), ": ", s.detail))),
  );
}

/** Verifies through the head after height, retrying while the signing block is not committed. */
export async function verifyWhenSigned(from: number, height: number, show: (v: Verification | undefined, err?: unknown) => void, alive: () => boolean): Promise<void> {
  for (;;) {
    try {
      const v = await verifyThrough(from, height);
      if (!alive()) return;
      show(v);
      if (v.ok !== undefined) return;
    } catch (err) {
      if (alive()) show(undefined, err);
      return;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export const txView: View = (main, hash) => {
  let alive = true;
  const res = h("section", {}, loading("the tx"));
  const body = h("section", {}, loading("its ops"));
  const signers = h("section", {});
  const audit = h("section", {}, h("h2", {}, "Audit entry"), loading("its audit entry"));
  mount(main, h("h1", {}, "Tx ", h("code", { "data-testid": "tx-hash" }, hash)), res, body, signers, audit);
  void (async () => {
    let r;
    try {
      r = await api().tx(hash);
    } catch (err) {
      mount(res, errorBox(err, "the tx"));
      mount(body);
      mount(audit);
      return;
    }
    mount(
      res,
      h(
        "table",
        { class: "kv" },
        h("tr", {}, h("th", {}, "result"), h("td", {}, badge(r.code === 0, r.code_name), ` code ${r.code}`, r.log ? h("p", { class: "reason", "data-testid": "reason" }, r.log) : null)),
        h("tr", {}, h("th", {}, "block"), h("td", {}, link(routes.block(r.height), String(r.height)), `, position ${r.index}`)),
        h("tr", {}, h("th", {}, "signer"), h("td", {}, h("code", {}, r.signer ?? ""))),
        h("tr", {}, h("th", {}, "writes"), h("td", {}, (r.writes ?? []).length === 0 ? "none" : h("ul", {}, (r.writes ?? []).map((w) => h("li", {}, link(routes.key(w.key, r.height), h("code", {}, w.key)), ` version ${w.version}`, w.deleted ? " (delete)" : ""))))),
      ),
    );
    void showBody(body, signers, hash);
    let e: AuditEntry | undefined;
    try {
      e = await findEntry(r.height, r.index);
    } catch (err) {
      if (alive) mount(audit, h("h2", {}, "Audit entry"), errorBox(err, "the audit log"));
      return;
    }
    if (!alive) return;
    if (!e) {
      mount(audit, h("h2", {}, "Audit entry"), h("p", {}, "No audit entry found for this tx."));
      return;
    }
    const ver = h("div", {}, loading("the verification"));
    mount(
      audit,
      h("h2", {}, "Audit entry ", link(routes.audit(e.seq), `#${e.seq}`)),
      h(
        "table",
        { class: "kv", "data-testid": "audit-entry" },
        ...(
          [
            ["kind", e.kind],
            ["actor", e.actor],
            ["action", e.action],
            ["resources", (e.resources ?? []).join(", ")],
            ["code", `${e.code_name} (${e.code})`],
            ["time", when(e.time)],
            ["hash", e.hash],
            ["prev hash", e.prev_hash ?? ""],
          ] as [string, string | undefined][]
        ).map(([k, v]) => h("tr", {}, h("th", {}, k), h("td", {}, h("code", {}, v ?? "")))),
      ),
      ver,
    );
    const seq = e.seq;
    await verifyWhenSigned(seq, r.height, (v, err) => mount(ver, verificationBox(v, err)), () => alive);
  })();
  return () => {
    alive = false;
  };
};

async function showBody(body: HTMLElement, signers: HTMLElement, hash: string): Promise<void> {
  let tb;
  try {
    tb = await txBytes(api(), hash);
  } catch (err) {
    mount(body, errorBox(err, "the tx's ops"));
    return;
  }
  // The bytes are the chain's; a tx with an op this explorer's SDK does not
  // know (or any bytes it cannot decode) shows why instead of its ops.
  let tx: Tx;
  try {
    tx = decodeTx(fromBase64(tb.tx));
  } catch (err) {
    mount(body, h("h2", {}, "Ops"), errorBox(err, "decoding the tx"));
    mount(signers);
    return;
  }
  showSigners(signers, tx);
  let b: TxBody;
  try {
    b = decodeTxBody(tx.bodyBytes);
  } catch (err) {
    mount(body, h("h2", {}, "Ops"), errorBox(err, "decoding the tx's ops"));
    return;
  }
  mount(
    body,
    h("h2", {}, "Ops"),
    h("p", {}, `chain ${b.chainId}, nonce ${b.nonce}, valid until height ${b.validUntilHeight}, block time ${when(tb.block_time)}`, b.memo ? `, memo “${b.memo}”` : ""),
    h("table", { class: "ops", "data-testid": "ops" }, h("tr", {}, h("th", {}, "#"), h("th", {}, "op"), h("th", {}, "target"), h("th", {}, "value")), b.ops.map(opRow)),
  );
}

function showSigners(signers: HTMLElement, tx: Tx): void {
  const rows = tx.signatures.map((s) => {
    const addr = address(s.pubKey);
    const who = h("td", {}, loading("identity"));
    identity(api(), addr)
      .then((v) => mount(who, v.identity === addr ? "its own identity" : h("span", {}, "acts for ", h("code", {}, v.identity)), (v.keys ?? []).length > 1 ? ` (${(v.keys ?? []).length} keys over time)` : ""))
      .catch((err) => mount(who, errorBox(err, "identity")));
    return h("tr", {}, h("td", {}, h("code", { title: toHex(s.pubKey) }, addr)), who);
  });
  mount(signers, h("h2", {}, "Signers"), h("table", { class: "signers" }, h("tr", {}, h("th", {}, "key address"), h("th", {}, "identity")), rows));
}
