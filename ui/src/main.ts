// The explorer: a hash router over the views, and the header (chain, height,
// the reader). Every view is a deep link (#/key/K, #/tx/HASH, #/block/H...).

import "./style.css";
import { h, link, mount } from "./dom";
import { api, onReaderChange, reader } from "./session";
import { closeAll } from "./store";
import { auditView } from "./views/audit";
import { blockView, blocksView } from "./views/blocks";
import { diffView } from "./views/diff";
import { govView } from "./views/gov";
import { gtxView, gtxsView } from "./views/gtx";
import { keyView } from "./views/key";
import { keysView } from "./views/keys";
import { liveView } from "./views/live";
import { sessionView } from "./views/session";
import { txView } from "./views/tx";

/** A view draws into main and may return a cleanup for when the route changes. */
export type View = (main: HTMLElement, arg: string, q: URLSearchParams) => void | (() => void);

const views: Record<string, View> = {
  keys: keysView,
  key: keyView,
  diff: diffView,
  tx: txView,
  blocks: blocksView,
  block: blockView,
  audit: auditView,
  gov: govView,
  gtxs: gtxsView,
  gtx: gtxView,
  live: liveView,
  session: sessionView,
};

const nav: [string, string][] = [
  ["/keys", "Keys"],
  ["/diff", "Diff"],
  ["/blocks", "Blocks"],
  ["/audit", "Audit"],
  ["/gtxs", "Gtx"],
  ["/gov", "Validators & policy"],
  ["/live", "Live"],
];

let cleanup: void | (() => void);

function route(): void {
  const raw = location.hash.replace(/^#/, "") || "/keys";
  const [path = "", query = ""] = raw.split("?", 2);
  const [, name = "keys", ...rest] = path.split("/");
  const arg = decodeURIComponent(rest.join("/"));
  const main = document.getElementById("main") as HTMLElement;
  if (typeof cleanup === "function") cleanup();
  cleanup = undefined;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", raw.startsWith(a.getAttribute("href")?.slice(1) || "-"));
  const view = views[name];
  if (!view) {
    mount(main, h("div", { class: "error", role: "alert" }, h("strong", {}, "No such page"), h("p", {}, raw)));
    return;
  }
  mount(main);
  cleanup = view(main, arg, new URLSearchParams(query));
}

async function header(): Promise<void> {
  const top = document.getElementById("top") as HTMLElement;
  const chain = h("span", { class: "chain" }, "…");
  const height = h("span", { class: "height", "data-testid": "latest-height" }, "");
  const who = h("span", { class: "who" });
  const showWho = (): void => {
    const k = reader();
    mount(who, k ? h("span", {}, "reading as ", h("code", { "data-testid": "reader" }, k.address)) : h("span", {}, "anonymous reader"), " ", link("/session", k ? "key" : "load a key"));
  };
  showWho();
  onReaderChange(() => {
    showWho();
    closeAll();
    route();
  });
  mount(top, h("a", { class: "brand", href: "#/keys" }, "dstt explorer"), chain, height, h("nav", {}, nav.map(([r, t]) => link(r, t))), who);
  const tick = async (): Promise<void> => {
    try {
      const st = await api().status();
      chain.textContent = st.chain_id ?? "";
      height.textContent = `height ${st.latest_height}`;
    } catch {
      height.textContent = "node unreachable";
    }
  };
  await tick();
  setInterval(tick, 2000);
}

window.addEventListener("hashchange", route);
void header();
route();
