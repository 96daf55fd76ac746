// The prefix index: every committed write under a prefix, read once from
// the gateway's event stream (from height 1: the node replays its stored
// blocks, then the stream stays live) and kept in the page, so the state of
// the whole prefix at any height, the diff of two heights and each key's
// versions are computed here without more requests. The stream delivers
// only the writes the reader may read.

import type { Subscription, WriteEvent } from "@dstt/sdk";
import { fromBase64 } from "@dstt/sdk";
import { api } from "./session";

/** One version of a key. */
export interface Ver {
  height: number;
  index: number;
  write: number;
  value: string;
  deleted: boolean;
  tx: string;
  signer: string;
  time: string;
}

function eventValue(ev: WriteEvent): string {
  if (ev.value !== undefined) return ev.value;
  if (ev.value_base64 !== undefined) {
    const b = fromBase64(ev.value_base64);
    return "0x" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  }
  return "";
}

/** Last version at or below height (versions ascending), or undefined. */
export function versionAt(vs: Ver[], height: number): Ver | undefined {
  let lo = 0;
  let hi = vs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((vs[mid] as Ver).height <= height) lo = mid + 1;
    else hi = mid;
  }
  return lo > 0 ? vs[lo - 1] : undefined;
}

export class PrefixIndex {
  readonly prefix: string;
  readonly keys = new Map<string, Ver[]>();
  /** Every write seen, in commit order count. */
  writes = 0;
  /** The height up to which every write is here. */
  height = 0;
  /** The stored blocks have been replayed: the index is complete up to height. */
  caughtUp = false;
  error: unknown;
  #sorted: string[] | undefined;
  #sub: Subscription | undefined;
  #closed = false;
  readonly #listeners = new Set<(ev?: WriteEvent) => void>();
  #pending = 0;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  /** Keys in byte order (cached until a new key arrives). */
  sortedKeys(): string[] {
    this.#sorted ??= [...this.keys.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return this.#sorted;
  }

  /** The live keys (not deleted) at height, with their versions. */
  stateAt(height: number, under = this.prefix): { key: string; v: Ver }[] {
    const out: { key: string; v: Ver }[] = [];
    for (const k of this.sortedKeys()) {
      if (!k.startsWith(under)) continue;
      const v = versionAt(this.keys.get(k) as Ver[], height);
      if (v && !v.deleted) out.push({ key: k, v });
    }
    return out;
  }

  /** Calls f on every change (ev: the write, or none for progress); returns the unsubscriber. */
  listen(f: (ev?: WriteEvent) => void): () => void {
    this.#listeners.add(f);
    return () => this.#listeners.delete(f);
  }

  #notify(ev?: WriteEvent): void {
    if (ev && !this.caughtUp) {
      // While replaying, tell listeners at most every 2000 writes.
      if (++this.#pending < 2000) return;
      this.#pending = 0;
    }
    for (const f of this.#listeners) f(ev);
  }

  add(ev: WriteEvent): void {
    let vs = this.keys.get(ev.key);
    if (!vs) {
      vs = [];
      this.keys.set(ev.key, vs);
      this.#sorted = undefined;
    }
    vs.push({
      height: ev.height, index: ev.tx_index, write: ev.write_index, value: eventValue(ev),
      deleted: ev.op === "delete", tx: ev.tx_hash, signer: ev.signer ?? "", time: ev.time ?? "",
    });
    this.writes++;
    this.height = Math.max(this.height, ev.height);
    this.#notify(ev);
  }

  /** Opens the stream (from height 1) and feeds the index until close(). */
  async start(): Promise<void> {
    const target = await api().latestHeight();
    this.#sub = await api().subscribe(this.prefix, {
      fromHeight: 1,
      onPosition: (id) => {
        const hgt = Number(id.split(".")[0]);
        if (hgt > this.height) this.height = hgt;
        if (!this.caughtUp && !id.includes(".") && hgt >= target) {
          this.caughtUp = true;
          this.#notify();
        }
      },
    });
    void (async () => {
      try {
        for await (const ev of this.#sub as Subscription) this.add(ev);
      } catch (err) {
        if (!this.#closed) this.fail(err);
      }
    })();
  }

  /** Records a failure of the stream and tells the listeners. */
  fail(err: unknown): void {
    this.error = err;
    for (const f of this.#listeners) f();
  }

  close(): void {
    this.#closed = true;
    this.#sub?.close();
  }
}

const open = new Map<string, PrefixIndex>();
const MAX_OPEN = 3;

/** The index of prefix (or of a shorter prefix already open), opening it if needed. */
export function indexFor(prefix: string): PrefixIndex {
  for (const [p, ix] of open) {
    if (prefix.startsWith(p) && !ix.error) return ix;
  }
  const ix = new PrefixIndex(prefix);
  open.set(prefix, ix);
  ix.start().catch((err) => {
    open.delete(prefix);
    ix.fail(err);
  });
  while (open.size > MAX_OPEN) {
    const [p, old] = open.entries().next().value as [string, PrefixIndex];
    old.close();
    open.delete(p);
  }
  return ix;
}

/** Closes every index (the reader changed: what it may read changed too). */
export function closeAll(): void {
  for (const ix of open.values()) ix.close();
  open.clear();
}
