// A key's timeline: its value as of any height (a slider), and every
// version, newest first, with who wrote it and in which tx (a virtual list:
// 100k versions scroll smoothly).

import { errorBox, h, link, loading, mount, routes, short, VirtualList, when } from "../dom";
import { api } from "../session";
import { indexFor, versionAt, type Ver } from "../store";
import { HeightSlider, progress, replaceRoute } from "./common";
import type { View } from "../main";

export const keyView: View = (main, key, q) => {
  const ix = indexFor(key);
  const asked = Number(q.get("h")) || 0;
  let height = asked || Math.max(ix.height, 1);
  const status = h("p", { class: "status" });
  const current = h("div", { class: "current", "data-testid": "value-at" });
  const count = h("p", { class: "count" });
  let vs: Ver[] = [];
  let shown = false;
  const list = new VirtualList(
    (i) => {
      const v = vs[vs.length - 1 - i];
      if (!v) return h("div");
      const at = versionAt(vs, height);
      return h(
        "div",
        { class: "row verrow" + (v === at ? " selected" : ""), "data-version": `${v.height}.${v.index}` },
        link(routes.block(v.height), `${v.height}.${v.index}`),
        h("span", { class: "v" }, v.deleted ? h("em", {}, "deleted") : v.value),
        h("code", { title: v.signer }, short(v.signer, 12)),
        link(routes.tx(v.tx), short(v.tx)),
        h("span", { class: "t" }, when(v.time)),
      );
    },
    { label: "versions" },
  );
  // The value at the height: a (signed) read of the node, which also says
  // when the reader may not read the key; the timeline comes from the index.
  let asking = 0;
  const showValue = async (): Promise<void> => {
    const ask = ++asking;
    const at = height;
    mount(current, loading(`the value at height ${at}`));
    let got;
    try {
      got = await api().getAt(key, at);
    } catch (err) {
      if (ask === asking) mount(current, errorBox(err, `reading “${key}”`));
      return;
    }
    if (ask !== asking) return;
    const e = got.entry;
    const v = versionAt(vs, at);
    const writer = v && e && v.height === Number(e.version.height) && v.index === e.version.txIndex ? v : undefined;
    if (!e) {
      mount(current, h("p", { "data-testid": "absent" }, `“${key}” does not exist at height ${at}`, v?.deleted ? ` (deleted at version ${v.height}.${v.index}, `: "", v?.deleted ? link(routes.tx(v.tx), "tx") : "", v?.deleted ? ")" : "", "."));
      return;
    }
    mount(
      current,
      h("p", {}, "As of height ", h("strong", {}, String(at)), ": "),
      h("pre", { class: "value", "data-testid": "value" }, e.text),
      h(
        "p",
        {},
        "version ",
        link(routes.block(Number(e.version.height)), h("code", {}, `${e.version.height}.${e.version.txIndex}`)),
        writer ? h("span", {}, ", written by ", h("code", {}, writer.signer), " in tx ", link(routes.tx(writer.tx), h("code", { "data-testid": "writer-tx" }, short(writer.tx, 16))), ` at ${when(writer.time)}`) : "",
      ),
    );
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const askValue = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => void showValue(), 120);
  };
  const draw = (): void => {
    vs = ix.keys.get(key) ?? [];
    mount(count, `${vs.length} versions`);
    list.update(vs.length);
  };
  const slider = new HeightSlider("Height", height, Math.max(height, ix.height), (x) => {
    height = x;
    replaceRoute(routes.key(key, x));
    draw();
    askValue();
  }, !asked);
  const off = ix.listen((ev) => {
    progress(ix, status);
    if (slider.setMax(ix.height)) {
      height = slider.value;
      askValue();
    }
    if (!ev || ev.key === key || !ix.caughtUp) draw();
    if ((ix.caughtUp || ix.error) && !shown) {
      shown = true;
      askValue();
    }
  });
  progress(ix, status);
  mount(
    main,
    h("h1", {}, "Key ", h("code", { "data-testid": "key-name" }, key)),
    slider.el,
    status,
    current,
    h("h2", {}, "Timeline"),
    count,
    h("div", { class: "row head verrow" }, h("span", {}, "version"), h("span", {}, "value"), h("span", {}, "signer"), h("span", {}, "tx"), h("span", {}, "time")),
    list.el,
  );
  draw();
  if (asked || ix.caughtUp || ix.error) {
    shown = true;
    void showValue();
  }
  return () => {
    off();
    clearTimeout(timer);
    asking = -1;
  };
};
