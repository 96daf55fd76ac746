// Pieces the views share: the prefix form, the index's progress line, the
// height slider.

import { errorBox, h, mount } from "../dom";
import type { PrefixIndex } from "../store";

/** Replaces the page's URL (no new history entry, no re-render). */
export function replaceRoute(route: string): void {
  history.replaceState(null, "", "#" + route);
}

/** A form asking for a key prefix; go(prefix) on submit. */
export function prefixForm(prefix: string, go: (p: string) => void): HTMLElement {
  const input = h("input", { type: "text", name: "prefix", value: prefix, placeholder: "key prefix (empty: every key)", "aria-label": "key prefix", "data-testid": "prefix" });
  return h(
    "form",
    {
      class: "bar",
      onsubmit: (ev: Event) => {
        ev.preventDefault();
        go(input.value);
      },
    },
    h("label", {}, "Prefix ", input),
    h("button", { type: "submit" }, "Show"),
  );
}

/** A line saying how far the index got; error box when its stream failed. */
export function progress(ix: PrefixIndex, el: HTMLElement): void {
  if (ix.error) {
    mount(el, errorBox(ix.error, "reading the writes"));
    return;
  }
  const what = `${ix.keys.size} keys, ${ix.writes} versions under “${ix.prefix}”`;
  mount(el, ix.caughtUp ? h("span", { "data-testid": "index-ready" }, `${what}, up to height ${ix.height} (live)`) : h("span", { class: "loading", role: "status" }, `Loading writes… ${what}, height ${ix.height}`));
}

/** A height slider 1..max with a number box; onChange(height). */
export class HeightSlider {
  readonly el: HTMLElement;
  readonly range: HTMLInputElement;
  readonly num: HTMLInputElement;
  #follow: boolean;

  constructor(label: string, value: number, max: number, onChange: (h: number) => void, follow = false) {
    this.#follow = follow;
    this.range = h("input", { type: "range", min: 1, max: Math.max(1, max), value, "aria-label": label, "data-testid": "height-slider" });
    this.num = h("input", { type: "number", min: 1, max: Math.max(1, max), value, "aria-label": label + " (number)", class: "num", "data-testid": "height-input" });
    const set = (v: number): void => {
      this.range.value = this.num.value = String(v);
      this.#follow = v >= Number(this.range.max);
      onChange(v);
    };
    this.range.addEventListener("input", () => set(Number(this.range.value)));
    this.num.addEventListener("change", () => set(Math.min(Math.max(1, Number(this.num.value) || 1), Number(this.range.max))));
    this.el = h("label", { class: "slider" }, label + " ", this.range, this.num);
  }

  get value(): number {
    return Number(this.range.value);
  }

  /** Raises the maximum (the chain grew); a slider at its end follows it. */
  setMax(max: number): boolean {
    if (max <= Number(this.range.max)) return false;
    this.range.max = this.num.max = String(max);
    if (this.#follow) {
      this.range.value = this.num.value = String(max);
      return true;
    }
    return false;
  }
}
