// The reader's key: loaded from a key file or created here, kept in this
// tab's sessionStorage (gone when the tab closes), used only to sign reads
// in the page. Neither the key nor its seed is ever sent anywhere: reads
// carry a signature and the public key (Authorization: Dstt-Query).

import { Client, Key, fromHex, toHex } from "@dstt/sdk";

const STORE = "dstt-explorer-reader-seed";

let key: Key | undefined;
let client: Client | undefined;
const listeners = new Set<() => void>();

function load(): void {
  const seed = sessionStorage.getItem(STORE);
  if (seed) {
    try {
      key = Key.fromSeed(fromHex(seed));
    } catch {
      sessionStorage.removeItem(STORE);
    }
  }
}
load();

/** The reader's key, if one is loaded. */
export function reader(): Key | undefined {
  return key;
}

/** Sets (or with undefined, forgets) the reader's key. */
export function setReader(k: Key | undefined): void {
  key = k;
  client = undefined;
  if (k) sessionStorage.setItem(STORE, toHex(k.seed()));
  else sessionStorage.removeItem(STORE);
  for (const f of listeners) f();
}

/** Calls f whenever the reader changes. */
export function onReaderChange(f: () => void): void {
  listeners.add(f);
}

/** The client of this page's gateway, signing reads with the reader's key. */
export function api(): Client {
  client ??= new Client({ url: location.origin, ...(key ? { reader: key } : {}), timeoutMs: 30_000 });
  return client;
}

/** Loads a key from the Go keyring's unencrypted key file (keyring/test/NAME.key). */
export function fromKeyFileText(text: string): Key {
  return Key.fromKeyFile(text);
}
