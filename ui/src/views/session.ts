// The reader's key: load a key file, paste a seed, or create a key here.
// It stays in this tab (sessionStorage) and signs reads; it is never sent.

import { Key, fromHex } from "@dstt/sdk";
import { errorBox, h, mount } from "../dom";
import { fromKeyFileText, reader, setReader } from "../session";
import type { View } from "../main";

export const sessionView: View = (main) => {
  const msg = h("div", { "data-testid": "session-msg" });
  const file = h("input", { type: "file", accept: ".key,.json,application/json", "aria-label": "key file", "data-testid": "key-file" });
  file.addEventListener("change", async () => {
    const f = file.files?.[0];
    if (!f) return;
    try {
      setReader(fromKeyFileText(await f.text()));
      draw();
    } catch (err) {
      mount(msg, errorBox(err, "the key file"));
    }
  });
  const seed = h("input", { type: "password", placeholder: "64 hex digits", "aria-label": "seed (hex)", autocomplete: "off" });
  const draw = (): void => {
    const k = reader();
    mount(
      main,
      h("h1", {}, "Your key"),
      h("p", {}, "Reads on a chain with access control are signed. Your key stays in this browser tab (session storage, gone when the tab closes) and signs each read here; only the signature and the public key go to the node."),
      k
        ? h("div", { class: "current" }, h("p", {}, "Reading as ", h("code", { "data-testid": "reader-address" }, k.address)), h("button", { onclick: () => (setReader(undefined), draw()) }, "Forget this key"), " ", download(k))
        : h("p", {}, "No key: reads are anonymous (“anyone”)."),
      h("h2", {}, "Load a key file"),
      h("p", {}, "An unencrypted key file of the dstt keyring (", h("code", {}, "HOME/keyring/test/NAME.key"), "; ", h("code", {}, "dstt start --dev"), " writes ", h("code", {}, "~/.dstt/keyring/test/dev.key"), ")."),
      file,
      h("h2", {}, "Paste a seed"),
      h("form", { onsubmit: (ev: Event) => (ev.preventDefault(), use(() => Key.fromSeed(fromHex(seed.value.trim())))) }, seed, h("button", { type: "submit" }, "Use")),
      h("h2", {}, "Create a key"),
      h("p", {}, "A new key reads what its address is granted (", h("code", {}, "dstt rbac grant ADDRESS ROLE"), ")."),
      h("button", { onclick: () => use(() => Key.generate()), "data-testid": "create-key" }, "Create a key"),
      msg,
    );
  };
  const use = (make: () => Key): void => {
    try {
      setReader(make());
      draw();
    } catch (err) {
      mount(msg, errorBox(err, "the key"));
    }
  };
  draw();
};

function download(k: Key): HTMLElement {
  return h(
    "button",
    {
      onclick: () => {
        const url = URL.createObjectURL(new Blob([k.toKeyFile()], { type: "application/json" }));
        const a = h("a", { href: url, download: `${k.address}.key` });
        a.click();
        setTimeout(() => URL.revokeObjectURL(url), 1000);
      },
    },
    "Save as a key file (unencrypted)",
  );
}
