// The key browser: every key under a prefix as of any height (a slider),
// from the prefix index; a virtual list, so 10k keys scroll smoothly.

import { h, link, mount, routes, short, VirtualList } from "../dom";
import { indexFor } from "../store";
import { HeightSlider, prefixForm, progress, replaceRoute } from "./common";
import type { View } from "../main";

export const keysView: View = (main, _arg, q) => {
  const prefix = q.get("prefix") ?? "";
  const asked = Number(q.get("h")) || 0;
  const ix = indexFor(prefix);
  const status = h("p", { class: "status" });
  const count = h("p", { class: "count", "data-testid": "key-count" });
  let height = asked || Math.max(ix.height, 1);
  let rows: ReturnType<typeof ix.stateAt> = [];
  const list = new VirtualList(
    (i) => {
      const r = rows[i];
      if (!r) return h("div");
      return h(
        "div",
        { class: "row keyrow", "data-key": r.key },
        link(routes.key(r.key, height), h("code", { class: "k" }, r.key)),
        h("span", { class: "v", "data-testid": "value" }, r.v.value),
        link(routes.block(r.v.height), `${r.v.height}.${r.v.index}`),
        link(routes.tx(r.v.tx), short(r.v.tx)),
      );
    },
    { label: "keys" },
  );
  const draw = (): void => {
    rows = ix.stateAt(height, prefix);
    mount(count, `${rows.length} keys as of height ${height}`);
    list.update(rows.length);
  };
  const slider = new HeightSlider("Height", height, Math.max(height, ix.height), (v) => {
    height = v;
    replaceRoute(routes.keys(prefix, v));
    draw();
  }, !asked);
  const off = ix.listen(() => {
    progress(ix, status);
    if (slider.setMax(ix.height)) height = slider.value;
    draw();
  });
  progress(ix, status);
  mount(
    main,
    h("h1", {}, "Keys"),
    prefixForm(prefix, (p) => (location.hash = routes.keys(p))),
    slider.el,
    status,
    count,
    h("div", { class: "row head" }, h("span", {}, "key"), h("span", {}, "value"), h("span", {}, "version"), h("span", {}, "tx")),
    list.el,
    h("p", {}, link(routes.diff(prefix, Math.max(1, height - 1), height), "Diff two heights of this prefix")),
  );
  draw();
  return off;
};
