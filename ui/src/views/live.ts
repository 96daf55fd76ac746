// A live feed of committed writes under a prefix (Server-Sent Events), from
// the next block on; newest first, the last 1000 kept.

import type { Subscription, WriteEvent } from "@dstt/sdk";
import { errorBox, h, link, mount, routes, short, when } from "../dom";
import { api } from "../session";
import { prefixForm } from "./common";
import type { View } from "../main";

const KEEP = 1000;

export const liveView: View = (main, _arg, q) => {
  const prefix = q.get("prefix") ?? "";
  const state = h("p", { class: "status loading", role: "status", "data-testid": "live-state" }, "Connecting…");
  const feed = h("ol", { class: "feed", "data-testid": "feed", reversed: true });
  let sub: Subscription | undefined;
  let closed = false;
  const row = (ev: WriteEvent): HTMLElement =>
    h(
      "li",
      { "data-key": ev.key },
      h("span", { class: "op " + ev.op }, ev.op),
      " ",
      link(routes.key(ev.key, ev.height), h("code", {}, ev.key)),
      ev.op === "put" ? h("span", { class: "v" }, " = ", ev.value ?? (ev.value_base64 ? "(binary)" : "")) : null,
      " ",
      h("span", { class: "meta" }, "version ", link(routes.block(ev.height), ev.version), " · tx ", link(routes.tx(ev.tx_hash), short(ev.tx_hash)), " · ", h("code", {}, short(ev.signer, 12)), " · ", when(ev.time)),
    );
  void (async () => {
    try {
      sub = await api().subscribe(prefix);
      if (closed) return sub.close();
      mount(state, `Live: writes under “${prefix}” appear here as their blocks commit.`);
      state.classList.remove("loading");
      state.setAttribute("data-live", "true");
      for await (const ev of sub) {
        feed.prepend(row(ev));
        while (feed.childElementCount > KEEP) feed.lastElementChild?.remove();
      }
    } catch (err) {
      if (!closed) mount(state, errorBox(err, "the event stream"));
    }
  })();
  mount(main, h("h1", {}, "Live writes"), prefixForm(prefix, (p) => (location.hash = routes.live(p))), state, feed);
  return () => {
    closed = true;
    sub?.close();
  };
};
