// The consensus audit log, a page at a time, each page verified: every
// entry's hash and link recomputed here, up to the head after the page's
// last block, whose app hash the validators signed in the next block.

import type { AuditEntry } from "@dstt/sdk";
import { badge, errorBox, h, link, loading, mount, routes, short, when } from "../dom";
import { entriesRange, headSeq, lowestSeq } from "../verify";
import { verificationBox, verifyWhenSigned } from "./tx";
import type { View } from "../main";

const PAGE = 50;

export const auditView: View = (main, _arg, q) => {
  let alive = true;
  mount(main, h("h1", {}, "Audit log"), loading("the audit log"));
  void (async () => {
    let es: AuditEntry[];
    let n: number;
    let from: number;
    let lowest: number;
    try {
      n = await headSeq();
      lowest = await lowestSeq();
      from = Math.max(lowest, Number(q.get("from")) || n - PAGE + 1);
      es = await entriesRange(from, Math.min(n, from + PAGE - 1));
    } catch (err) {
      mount(main, h("h1", {}, "Audit log"), errorBox(err, "the audit log"));
      return;
    }
    const last = es[es.length - 1];
    const ver = h("div", {}, last ? loading("the verification") : "");
    mount(
      main,
      h("h1", {}, "Audit log"),
      h(
        "p",
        {},
        `Entries ${from}–${from + es.length - 1} of ${n}. `,
        lowest > 1 ? `Entries below ${lowest} were pruned by an audit export anchor. ` : "",
        from > lowest ? link(routes.audit(Math.max(lowest, from - PAGE)), "← older") : "",
        " ",
        from + PAGE <= n ? link(routes.audit(from + PAGE), "newer →") : "",
      ),
      last ? h("h2", {}, `Entries ${from}–${last.seq}: verified up to block ${last.height}`) : null,
      ver,
      h(
        "table",
        { class: "audit", "data-testid": "audit-entries" },
        h("tr", {}, ["seq", "block", "time", "kind", "actor", "action", "resources", "code", "tx", "hash"].map((t) => h("th", {}, t))),
        es.map((e) =>
          h(
            "tr",
            { id: `seq-${e.seq}` },
            h("td", {}, String(e.seq)),
            h("td", {}, link(routes.block(e.height), `${e.height}.${e.tx_index}`)),
            h("td", {}, when(e.time)),
            h("td", {}, e.kind),
            h("td", {}, h("code", { title: e.actor ?? "" }, short(e.actor, 12))),
            h("td", {}, e.action ?? ""),
            h("td", {}, (e.resources ?? []).slice(0, 3).join(", ") + ((e.resources ?? []).length > 3 ? " …" : "")),
            h("td", {}, badge(e.code === 0, e.code_name ?? String(e.code))),
            h("td", {}, e.tx_hash ? link(routes.tx(e.tx_hash), short(e.tx_hash.toUpperCase())) : ""),
            h("td", {}, h("code", { title: e.hash }, short(e.hash))),
          ),
        ),
      ),
    );
    if (last) await verifyWhenSigned(from, last.height, (v, err) => mount(ver, verificationBox(v, err)), () => alive);
  })();
  return () => {
    alive = false;
  };
};
