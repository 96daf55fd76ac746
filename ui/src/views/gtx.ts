// Global transactions (cross-organisation sagas and TCCs): the list the
// reader may read, and one gtx with its branches, their participants, and
// its journal of steps (attempts, answers, who signed them, in which block).

import { type GtxView, fromBase64, gtx, gtxList, gtxParticipant, isUtf8, toHex } from "@dstt/sdk";
import { badge, errorBox, h, link, loading, mount, routes, short, when } from "../dom";
import { api } from "../session";
import type { View } from "../main";

const PAGE = 100;

function payload(b64: string | undefined): string {
  if (!b64) return "";
  const b = fromBase64(b64);
  return isUtf8(b) ? new TextDecoder().decode(b) : "0x" + toHex(b);
}

function phaseBadge(phase: string): HTMLElement {
  return badge(phase === "committed" ? true : phase === "aborted" ? false : undefined, phase);
}

export const gtxsView: View = (main, _arg, q) => {
  const after = q.get("after") ?? "";
  const open = q.get("open") === "true";
  mount(main, h("h1", {}, "Global transactions"), loading("the gtxs"));
  void (async () => {
    try {
      const l = await gtxList(api(), { after, limit: PAGE, open });
      mount(
        main,
        h("h1", {}, "Global transactions"),
        h("p", {}, open ? link(routes.gtxs(), "show all") : link(routes.gtxs("", true), "only open ones")),
        l.gtxs.length === 0
          ? h("p", {}, "No gtx that you may read.")
          : h(
              "table",
              { "data-testid": "gtxs" },
              h("tr", {}, ["gid", "mode", "phase", "branches", "creator", "began", "ended", "deadline"].map((t) => h("th", {}, t))),
              l.gtxs.map((g) =>
                h(
                  "tr",
                  {},
                  h("td", {}, link(routes.gtx(g.gid), h("code", {}, g.gid))),
                  h("td", {}, g.mode),
                  h("td", {}, phaseBadge(g.phase)),
                  h("td", {}, String(g.branches)),
                  h("td", {}, h("code", {}, short(g.creator, 12))),
                  h("td", {}, link(routes.block(g.begin_height), String(g.begin_height))),
                  h("td", {}, g.end_height ? link(routes.block(g.end_height), String(g.end_height)) : ""),
                  h("td", {}, when(g.deadline)),
                ),
              ),
            ),
        l.next ? h("p", {}, link(routes.gtxs(l.next, open), "next page →")) : null,
      );
    } catch (err) {
      mount(main, h("h1", {}, "Global transactions"), errorBox(err, "the gtxs"));
    }
  })();
};

function participantCell(id: string): HTMLElement {
  const el = h("td", {}, h("code", {}, id));
  gtxParticipant(api(), id).then(
    (p) => el.append(h("div", { class: "meta" }, `org ${p.org}, key ${short(p.address, 12)}, ${p.endpoint}`)),
    () => undefined,
  );
  return el;
}

function detail(g: GtxView): HTMLElement[] {
  const branches = g.branches.map((b, i) => {
    const ops = g.mode === "saga" ? [["action", b.action], ["compensate", b.compensate]] : [["try", b.try], ["confirm", b.confirm], ["cancel", b.cancel]];
    return h("tr", {}, h("td", {}, String(i)), participantCell(b.participant), h("td", {}, ops.map(([k, v]) => h("div", {}, `${k}: `, h("code", {}, payload(v))))));
  });
  const steps = g.steps.map((s) =>
    h(
      "tr",
      { "data-state": s.state },
      h("td", {}, String(s.branch)),
      h("td", {}, s.op),
      h("td", {}, badge(s.state === "succeeded" ? true : s.state === "awaited" ? undefined : false, s.state)),
      h("td", {}, String(s.attempt)),
      h("td", {}, link(routes.block(s.due_height), String(s.due_height))),
      h("td", {}, s.status ?? "", s.result ? h("div", {}, h("code", {}, payload(s.result))) : ""),
      h("td", {}, h("code", {}, short(s.signer, 12))),
      h("td", {}, s.answer_height ? link(routes.block(s.answer_height), `${s.answer_height}.${s.answer_tx_index ?? 0}`) : ""),
      h("td", {}, h("code", {}, short(s.submitter, 12))),
    ),
  );
  return [
    h(
      "table",
      { class: "kv", "data-testid": "gtx" },
      h("tr", {}, h("th", {}, "mode"), h("td", {}, g.mode)),
      h("tr", {}, h("th", {}, "phase"), h("td", { "data-testid": "gtx-phase" }, phaseBadge(g.phase), g.abort_reason ? ` (${g.abort_reason}${g.abort_branch !== undefined ? `, branch ${g.abort_branch}` : ""})` : "")),
      h("tr", {}, h("th", {}, "creator"), h("td", {}, h("code", {}, g.creator))),
      h("tr", {}, h("th", {}, "began"), h("td", {}, link(routes.block(g.begin_height), `block ${g.begin_height}`), g.end_height ? [" · ended ", link(routes.block(g.end_height), `block ${g.end_height}`)] : "")),
      h("tr", {}, h("th", {}, "deadline"), h("td", {}, when(g.deadline))),
      h("tr", {}, h("th", {}, "commit writes"), h("td", {}, (g.commit_writes ?? []).map((w) => h("div", {}, link(routes.key(w.key), h("code", {}, w.key)), w.delete ? " (delete)" : [" = ", payload(w.value)])))),
    ),
    h("h2", {}, "Branches"),
    h("table", {}, h("tr", {}, ["#", "participant", "payloads"].map((t) => h("th", {}, t))), branches),
    h("h2", {}, "Journal"),
    h("table", { "data-testid": "gtx-steps" }, h("tr", {}, ["branch", "op", "state", "attempt", "due", "answer", "signed by", "answered in", "submitted by"].map((t) => h("th", {}, t))), steps),
  ];
}

export const gtxView: View = (main, gid) => {
  mount(main, h("h1", {}, "Gtx ", h("code", {}, gid)), loading("the gtx"));
  void (async () => {
    try {
      const g = await gtx(api(), gid);
      mount(main, h("h1", {}, "Gtx ", h("code", { "data-testid": "gid" }, gid)), ...detail(g));
    } catch (err) {
      mount(main, h("h1", {}, "Gtx ", h("code", {}, gid)), errorBox(err, "the gtx"));
    }
  })();
};
