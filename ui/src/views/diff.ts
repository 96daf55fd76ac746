// The diff of a prefix between two heights: keys added, removed, changed.

import { h, link, mount, routes, VirtualList } from "../dom";
import { indexFor, type Ver } from "../store";
import { HeightSlider, prefixForm, progress, replaceRoute } from "./common";
import type { View } from "../main";

interface Change {
  key: string;
  kind: "added" | "removed" | "changed";
  a?: Ver;
  b?: Ver;
}

export const diffView: View = (main, _arg, q) => {
  const prefix = q.get("prefix") ?? "";
  const ix = indexFor(prefix);
  let from = Number(q.get("from")) || 1;
  let to = Number(q.get("to")) || Math.max(ix.height, 1);
  const status = h("p", { class: "status" });
  const count = h("p", { class: "count", "data-testid": "diff-count" });
  let changes: Change[] = [];
  const list = new VirtualList(
    (i) => {
      const c = changes[i];
      if (!c) return h("div");
      return h(
        "div",
        { class: "row diffrow " + c.kind, "data-key": c.key },
        h("span", { class: "kind" }, c.kind),
        link(routes.key(c.key, to), h("code", {}, c.key)),
        h("span", { class: "v old" }, c.a ? c.a.value : "—"),
        h("span", { class: "v new" }, c.b ? c.b.value : "—"),
      );
    },
    { label: "changes" },
  );
  const draw = (): void => {
    const a = new Map(ix.stateAt(from, prefix).map((r) => [r.key, r.v]));
    const b = new Map(ix.stateAt(to, prefix).map((r) => [r.key, r.v]));
    changes = [];
    for (const k of ix.sortedKeys()) {
      const va = a.get(k);
      const vb = b.get(k);
      if (va && !vb) changes.push({ key: k, kind: "removed", a: va });
      else if (!va && vb) changes.push({ key: k, kind: "added", b: vb });
      else if (va && vb && (va.height !== vb.height || va.index !== vb.index || va.write !== vb.write)) changes.push({ key: k, kind: "changed", a: va, b: vb });
    }
    mount(count, `${changes.length} keys differ between height ${from} and height ${to}`);
    list.update(changes.length);
  };
  const upd = (): void => {
    replaceRoute(routes.diff(prefix, from, to));
    draw();
  };
  const max = Math.max(to, ix.height, 1);
  const sa = new HeightSlider("From height", from, max, (v) => ((from = v), upd()));
  const sb = new HeightSlider("To height", to, max, (v) => ((to = v), upd()), !q.get("to"));
  const off = ix.listen(() => {
    progress(ix, status);
    sa.setMax(ix.height);
    if (sb.setMax(ix.height)) to = sb.value;
    draw();
  });
  progress(ix, status);
  mount(
    main,
    h("h1", {}, "Diff"),
    prefixForm(prefix, (p) => (location.hash = routes.diff(p, from, to))),
    sa.el,
    sb.el,
    status,
    count,
    h("div", { class: "row head diffrow" }, h("span", {}, "change"), h("span", {}, "key"), h("span", {}, "before"), h("span", {}, "after")),
    list.el,
  );
  draw();
  return off;
};
