// Blocks, read from the consensus audit log (one entry per tx, with its
// block's height and time): the newest blocks, and one block's txs with the
// proof of its state in the next block's signed commit.

import type { AuditEntry } from "@dstt/sdk";
import { badge, errorBox, h, link, loading, mount, routes, short, when } from "../dom";
import { entriesRange, headSeq, lowerBound } from "../verify";
import { verificationBox, verifyWhenSigned } from "./tx";
import type { View } from "../main";

const PAGE = 200;

function byHeight(es: AuditEntry[]): Map<number, AuditEntry[]> {
  const m = new Map<number, AuditEntry[]>();
  for (const e of es) {
    const l = m.get(e.height) ?? [];
    l.push(e);
    m.set(e.height, l);
  }
  return m;
}

export const blocksView: View = (main, _arg, q) => {
  const before = Number(q.get("before")) || 0;
  mount(main, h("h1", {}, "Blocks"), loading("blocks"));
  void (async () => {
    try {
      const end = before ? (await lowerBound(before, 0)) - 1 : await headSeq();
      const es = await entriesRange(Math.max(1, end - PAGE + 1), end);
      const groups = [...byHeight(es).entries()].reverse();
      const oldest = groups[groups.length - 1]?.[0];
      mount(
        main,
        h("h1", {}, "Blocks"),
        h("p", {}, "Blocks with txs, newest first, from the audit log (each tx's entry carries its block's height and time)."),
        h(
          "table",
          { class: "blocks", "data-testid": "blocks" },
          h("tr", {}, h("th", {}, "height"), h("th", {}, "time"), h("th", {}, "txs"), h("th", {}, "outcomes")),
          groups.map(([height, l]) =>
            h(
              "tr",
              {},
              h("td", {}, link(routes.block(height), String(height))),
              h("td", {}, when(l[0]?.time)),
              h("td", {}, String(l.length)),
              h("td", {}, l.map((e) => badge(e.code === 0, e.code_name ?? String(e.code)))),
            ),
          ),
        ),
        oldest && es[0] && es[0].seq > 1 ? h("p", {}, link(routes.blocks(oldest), "Older blocks")) : null,
      );
    } catch (err) {
      mount(main, h("h1", {}, "Blocks"), errorBox(err, "the audit log"));
    }
  })();
};

export const blockView: View = (main, arg) => {
  const height = Number(arg);
  let alive = true;
  mount(main, h("h1", {}, `Block ${height}`), loading("the block"));
  void (async () => {
    let es: AuditEntry[];
    let first: number;
    try {
      first = await lowerBound(height, 0);
      es = (await entriesRange(first, first + 999)).filter((e) => e.height === height);
    } catch (err) {
      mount(main, h("h1", {}, `Block ${height}`), errorBox(err, "the audit log"));
      return;
    }
    const ver = h("div", {}, loading("the verification"));
    mount(
      main,
      h("h1", {}, `Block ${height}`),
      h("p", {}, link(routes.block(Math.max(1, height - 1)), "← previous"), " · ", link(routes.block(height + 1), "next →"), " · ", link(routes.keys("", height), "state at this height")),
      es.length === 0
        ? h("p", {}, `No tx in block ${height} that you may see in the audit log.`)
        : h(
            "table",
            { class: "txs", "data-testid": "block-txs" },
            h("tr", {}, h("th", {}, "#"), h("th", {}, "tx"), h("th", {}, "result"), h("th", {}, "signer"), h("th", {}, "action"), h("th", {}, "keys"), h("th", {}, "audit")),
            es.map((e) =>
              h(
                "tr",
                {},
                h("td", {}, String(e.tx_index)),
                h("td", {}, e.tx_hash ? link(routes.tx(e.tx_hash), h("code", {}, short(e.tx_hash.toUpperCase(), 16))) : ""),
                h("td", {}, badge(e.code === 0, e.code_name ?? "")),
                h("td", {}, h("code", {}, short(e.actor, 12))),
                h("td", {}, e.action ?? ""),
                h("td", {}, (e.resources ?? []).slice(0, 5).join(", ") + ((e.resources ?? []).length > 5 ? " …" : "")),
                h("td", {}, link(routes.audit(e.seq), `#${e.seq}`)),
              ),
            ),
          ),
      h("h2", {}, `The state after block ${height}, signed in block ${height + 1}`),
      ver,
    );
    await verifyWhenSigned(es[0]?.seq ?? first, height, (v, err) => mount(ver, verificationBox(v, err)), () => alive);
  })();
  return () => {
    alive = false;
  };
};
