// DOM helpers. Every value from the chain is untrusted: it reaches the page
// only as text nodes and attribute values, never as HTML.

import { DsttError } from "@dstt/sdk";

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined | ((ev: Event) => void)>;

/** Creates an element with attributes (on* as listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Child | Child[])[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A link to a hash route. */
export function link(route: string, ...children: Child[]): HTMLAnchorElement {
  return h("a", { href: "#" + route }, ...children);
}

/** Routes, each one a deep link. */
export const routes = {
  keys: (prefix: string, height?: number): string => `/keys?${qs({ prefix, h: height })}`,
  key: (key: string, height?: number): string => `/key/${encodeURIComponent(key)}${height ? "?" + qs({ h: height }) : ""}`,
  diff: (prefix: string, from?: number, to?: number): string => `/diff?${qs({ prefix, from, to })}`,
  tx: (hash: string): string => `/tx/${hash.toUpperCase()}`,
  block: (height: number): string => `/block/${height}`,
  blocks: (before?: number): string => `/blocks${before ? "?" + qs({ before }) : ""}`,
  audit: (from?: number): string => `/audit${from ? "?" + qs({ from }) : ""}`,
  live: (prefix: string): string => `/live?${qs({ prefix })}`,
  gtxs: (after?: string, open?: boolean): string => `/gtxs${after || open ? "?" + qs({ after, open: open ? "true" : undefined }) : ""}`,
  gtx: (gid: string): string => `/gtx/${encodeURIComponent(gid)}`,
};

function qs(o: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== "") p.set(k, String(v));
  return p.toString();
}

/** A "loading" placeholder. */
export function loading(what: string): HTMLElement {
  return h("p", { class: "loading", role: "status" }, `Loading ${what}…`);
}

/** An error box: the gateway's stable code and its detail. */
export function errorBox(err: unknown, what = ""): HTMLElement {
  if (err instanceof DsttError) {
    const hint = err.code === "UNAUTHORIZED" ? h("p", {}, "This read is refused. ", link("/session", "Load or create a key"), " that may read it.") : null;
    return h("div", { class: "error", role: "alert", "data-code": err.code }, h("strong", {}, `${what ? what + ": " : ""}${err.code}`), h("p", {}, err.problem?.detail ?? err.message), hint);
  }
  return h("div", { class: "error", role: "alert", "data-code": "ERROR" }, h("strong", {}, what || "Error"), h("p", {}, err instanceof Error ? err.message : String(err)));
}

/** Replaces el's children. */
export function mount(el: Element, ...children: Child[]): void {
  el.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false).map((c) => (c instanceof Node ? c : String(c))));
}

/** Short form of a long hex string. */
export function short(hex: string | undefined, n = 10): string {
  if (!hex) return "";
  return hex.length > n + 2 ? hex.slice(0, n) + "…" : hex;
}

/** A time for people (UTC). */
export function when(t: string | undefined): string {
  if (!t) return "";
  return t.replace("T", " ").replace(/\.\d+/, "").replace("Z", " UTC");
}

/** A status badge. */
export function badge(ok: boolean | undefined, text: string): HTMLElement {
  return h("span", { class: "badge " + (ok === undefined ? "wait" : ok ? "ok" : "bad") }, text);
}

/**
 * A virtual list: only the rows in view exist in the DOM, so 100k rows
 * scroll without freezing. Rows have a fixed height.
 */
export class VirtualList {
  readonly el: HTMLElement;
  readonly #inner: HTMLElement;
  readonly #rowHeight: number;
  #count = 0;
  #render: (i: number) => HTMLElement;
  #frame = 0;

  constructor(render: (i: number) => HTMLElement, o: { rowHeight?: number; label?: string } = {}) {
    this.#rowHeight = o.rowHeight ?? 30;
    this.#render = render;
    this.#inner = h("div", { class: "vinner" });
    this.el = h("div", { class: "vlist", role: "list", "aria-label": o.label ?? "list", tabindex: 0 }, this.#inner);
    this.el.addEventListener("scroll", () => this.#schedule());
  }

  /** Sets the row count (and optionally the renderer) and redraws. */
  update(count: number, render?: (i: number) => HTMLElement): void {
    this.#count = count;
    if (render) this.#render = render;
    this.#inner.style.height = `${count * this.#rowHeight}px`;
    // As tall as its rows, up to 60% of the window; then it scrolls.
    this.el.style.height = `${Math.max(2 * this.#rowHeight, Math.min(count * this.#rowHeight + 2, Math.round(window.innerHeight * 0.6)))}px`;
    this.#schedule(true);
  }

  get count(): number {
    return this.#count;
  }

  #schedule(now = false): void {
    if (now) {
      this.#draw();
      return;
    }
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.#draw();
    });
  }

  #draw(): void {
    const view = this.el.clientHeight || 600;
    const first = Math.max(0, Math.floor(this.el.scrollTop / this.#rowHeight) - 5);
    const last = Math.min(this.#count, Math.ceil((this.el.scrollTop + view) / this.#rowHeight) + 5);
    const rows: HTMLElement[] = [];
    for (let i = first; i < last; i++) {
      const row = this.#render(i);
      row.classList.add("vrow");
      row.setAttribute("role", "listitem");
      row.style.top = `${i * this.#rowHeight}px`;
      row.style.height = `${this.#rowHeight}px`;
      rows.push(row);
    }
    this.#inner.replaceChildren(...rows);
  }
}
