// Optimistic transactions (the Go client's transport/client/txn.go): reads
// at one snapshot height record the version of each key; writes are
// buffered; the commit tx checks every version read (in key order) and then
// applies the writes (in first-write order), all or nothing. On CONFLICT
// the function runs again on a fresh snapshot after a jittered ("full
// jitter") exponential backoff scaled by the client's recent conflict rate.

import { compareBytes, utf8 } from "./bytes.js";
import type { Client, Entry, TxOutcome } from "./client.js";
import { TxError } from "./errors.js";
import type { Signer } from "./keys.js";
import { type Op, type Version, ZERO_VERSION } from "./proto.js";
import { ops } from "./tx.js";

export interface TxnOptions {
  /** How many times fn may run (default 64). */
  maxAttempts?: number;
  /** Backoff bounds in ms (default 2 and 500): attempt n waits rand[0, min(max, base·2^(n-1))). */
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  /** Blocks past the snapshot the commit tx stays valid (default: the client's validFor). */
  validFor?: number;
  /** Signers of the commit tx (default: the client's signer). */
  signers?: Signer[];
  memo?: string;
}

export interface TxnResult<T> {
  /** What fn returned on the attempt that committed. */
  value: T;
  /** The commit tx's outcome; undefined when fn wrote nothing. */
  outcome: TxOutcome | undefined;
  /** How many times fn ran. */
  attempts: number;
  /** The snapshot height of the attempt that committed. */
  height: number;
}

/** Thrown when every attempt lost to a concurrent writer. */
export class ContentionError extends Error {
  override name = "ContentionError";
  constructor(readonly attempts: number, readonly last: TxError | undefined) {
    super(`dstt: transaction aborted by contention: ${attempts} attempts, each lost to a concurrent write of a key it read${last ? "; last: " + last.message : ""}`);
  }
}

/** One attempt of a transaction; use it only inside the function given to Client.txn. */
export class Txn {
  readonly attempt: number;
  #height = 0;
  readonly #client: Client;
  readonly #reads = new Map<string, Version>();
  readonly #writes = new Map<string, Op>();
  readonly #order: string[] = [];

  constructor(client: Client, attempt: number) {
    this.#client = client;
    this.attempt = attempt;
  }

  /** The snapshot height (0 before the first read). */
  get height(): number {
    return this.#height;
  }

  /**
   * Reads key as of the snapshot (this transaction's own writes first);
   * null when it does not exist. The version read is checked at commit.
   */
  async get(key: string): Promise<Entry | null> {
    const w = this.#writes.get(key);
    if (w) {
      if ("put" in w) {
        return { key, value: w.put.value, text: new TextDecoder().decode(w.put.value), version: ZERO_VERSION, deleted: false };
      }
      return null;
    }
    const { entry, height } = await this.#client.getAt(key, this.#height);
    if (this.#height === 0) this.#height = height;
    if (!this.#reads.has(key)) this.#reads.set(key, entry && !entry.deleted ? entry.version : ZERO_VERSION);
    return entry && !entry.deleted ? entry : null;
  }

  /** Buffers a write of value under key. */
  put(key: string, value: Uint8Array | string): void {
    this.#write(key, ops.put(key, value));
  }

  /** Buffers a delete of key. */
  delete(key: string): void {
    this.#write(key, ops.delete(key));
  }

  #write(key: string, op: Op): void {
    if (!this.#writes.has(key)) this.#order.push(key);
    this.#writes.set(key, op);
  }

  /** The commit tx's ops: a check of every key read, in key order, then the writes. */
  ops(): Op[] {
    const keys = [...this.#reads.keys()].sort(compareStrings);
    return [
      ...keys.map((k) => ops.check(k, this.#reads.get(k) as Version)),
      ...this.#order.map((k) => this.#writes.get(k) as Op),
    ];
  }

  get writes(): number {
    return this.#writes.size;
  }
}

/** Orders strings by their UTF-8 bytes, as Go sorts strings. */
function compareStrings(a: string, b: string): number {
  return compareBytes(utf8(a), utf8(b));
}

const CONTENTION_ALPHA = 0.2;

function backoffMs(client: Client, o: Required<Pick<TxnOptions, "baseBackoffMs" | "maxBackoffMs">>, n: number): number {
  const base = o.baseBackoffMs * (1 + 15 * client.contention);
  const ceiling = Math.min(o.maxBackoffMs, base * 2 ** Math.min(n - 1, 30));
  return ceiling < 1 ? 0 : Math.random() * ceiling;
}

function observe(client: Client, conflict: boolean): void {
  client.contention += CONTENTION_ALPHA * ((conflict ? 1 : 0) - client.contention);
}

/** @internal Client.txn */
export async function runTxn<T>(client: Client, fn: (t: Txn) => Promise<T> | T, o: TxnOptions): Promise<TxnResult<T>> {
  const maxAttempts = o.maxAttempts ?? 64;
  const bo = { baseBackoffMs: o.baseBackoffMs ?? 2, maxBackoffMs: o.maxBackoffMs ?? 500 };
  const validFor = o.validFor ?? client.validFor;
  let last: TxError | undefined;
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    if (attempt > 1) {
      const ms = backoffMs(client, bo, attempt - 1);
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    }
    const t = new Txn(client, attempt);
    const value = await fn(t);
    if (t.writes === 0) return { value, outcome: undefined, attempts: attempt, height: t.height };
    const base = t.height || (await client.latestHeight());
    try {
      const outcome = await client.commit(t.ops(), {
        validUntilHeight: BigInt(base) + BigInt(validFor),
        mode: "commit",
        ...(o.signers ? { signers: o.signers } : {}),
        ...(o.memo !== undefined ? { memo: o.memo } : {}),
      });
      observe(client, false);
      return { value, outcome, attempts: attempt, height: t.height };
    } catch (err) {
      if (err instanceof TxError && err.conflict) {
        observe(client, true);
        last = err;
        continue;
      }
      throw err;
    }
  }
  throw new ContentionError(maxAttempts, last);
}
