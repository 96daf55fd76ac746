// The REST client: submit, reads with versions and history, signed reads.

import { fromBase64, toBase64, utf8 } from "./bytes.js";
import { DsttError, TxError, type Problem } from "./errors.js";
import type { Signer } from "./keys.js";
import type { components } from "./openapi.js";
import { type Op, type U64, type Version, ZERO_VERSION, parseVersion, versionText } from "./proto.js";
import {
  type InnerQuery,
  authorizationHeader,
  eventsQuery,
  historyQuery,
  kvGetQuery,
  readerAddress,
  signRead,
  txQuery,
} from "./auth.js";
import { type SignedTx, newTxBody, signTx } from "./tx.js";
import { Subscription, type SubscribeOptions } from "./events.js";
import { type TxnOptions, type Txn, type TxnResult, runTxn } from "./txn.js";

export type SubmitRequest = components["schemas"]["SubmitRequest"];
export type SubmitResponse = components["schemas"]["SubmitResponse"];
export type TxOutcome = components["schemas"]["TxOutcome"];
export type Status = components["schemas"]["Status"];
export type TxResultJSON = components["schemas"]["TxResult"];
export type KVJSON = components["schemas"]["KV"];
export type HistoryJSON = components["schemas"]["History"];
export type WriteEvent = components["schemas"]["WriteEvent"];

/** How many blocks past the latest height a tx stays valid by default (as the Go client). */
export const DEFAULT_VALID_FOR = 100;

export interface ClientOptions {
  /** The gateway's base URL, e.g. http://127.0.0.1:8080 */
  url: string;
  /** Signs txs (and reads, unless reader is set). */
  signer?: Signer;
  /** Signs reads (Authorization: Dstt-Query). Default: signer. Without either, reads are anonymous. */
  reader?: Signer;
  /** The chain id; default: asked from GET /v1/status once. */
  chainId?: string;
  /** Blocks past the latest height a new tx stays valid (default 100). */
  validFor?: number;
  /** The fetch to use (default: the global fetch). */
  fetch?: typeof fetch;
  /** Per-request timeout in ms for non-streaming requests (default 60000). */
  timeoutMs?: number;
}

/** A key's value as of some height. */
export interface Entry {
  key: string;
  /** The value (empty for a deletion). */
  value: Uint8Array;
  /** The value as UTF-8 text. */
  text: string;
  /** The version (height, tx index) of the tx that wrote it. */
  version: Version;
  deleted: boolean;
}

export interface HistoryPage {
  key: string;
  /** Newest first. */
  versions: Entry[];
  /** Pass as `before` for the next page; undefined on the last page. */
  next: Version | undefined;
}

export interface SubmitOptions {
  /** "sync": return once admitted to the mempool; "commit": once in a block (default "commit"). */
  mode?: "sync" | "commit";
  /** commit mode: how long the gateway waits (default: its own, 30 s). */
  timeoutMs?: number;
}

export interface BuildOptions {
  /** Signers (default: the client's signer). */
  signers?: Signer[];
  memo?: string;
  nonce?: U64;
  /** Absolute last height; default latest height + validFor. */
  validUntilHeight?: U64;
  validFor?: number;
}

function entryFromJSON(kv: KVJSON): Entry {
  const value = kv.value_base64 ? fromBase64(kv.value_base64) : utf8(kv.value ?? "");
  return {
    key: kv.key,
    value: kv.deleted ? new Uint8Array() : value,
    text: kv.deleted ? "" : new TextDecoder().decode(value),
    version: parseVersion(kv.version),
    deleted: kv.deleted ?? false,
  };
}

function keyPath(key: string): string {
  return "/v1/kv/" + encodeURIComponent(key);
}

/** A client of one dstt REST gateway. Safe for concurrent use. */
export class Client {
  readonly url: string;
  readonly signer: Signer | undefined;
  readonly reader: Signer | undefined;
  readonly validFor: number;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  #chainId: string | undefined;
  /** Recent conflict rate (EWMA), which scales txn backoff. */
  contention = 0;

  constructor(o: ClientOptions) {
    this.url = o.url.replace(/\/+$/, "");
    this.signer = o.signer;
    this.reader = o.reader ?? o.signer;
    this.validFor = o.validFor ?? DEFAULT_VALID_FOR;
    // Bound: a browser refuses fetch called with another `this` ("Illegal invocation").
    this.#fetch = o.fetch ?? globalThis.fetch.bind(globalThis);
    this.#timeoutMs = o.timeoutMs ?? 60_000;
    this.#chainId = o.chainId;
  }

  /** A client like this one that signs reads with reader (and txs with signer, if given). */
  with(o: { signer?: Signer; reader?: Signer }): Client {
    return new Client({
      url: this.url,
      signer: o.signer ?? this.signer,
      reader: o.reader ?? o.signer ?? this.reader,
      chainId: this.#chainId,
      validFor: this.validFor,
      fetch: this.#fetch,
      timeoutMs: this.#timeoutMs,
    });
  }

  // ------------------------------------------------------------ transport

  /** Sends a request; a non-200 answer becomes a DsttError (TxError for a tx problem). */
  async request<T>(
    method: string,
    path: string,
    o: { body?: unknown; query?: InnerQuery; reader?: Signer | null; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (o.body !== undefined) headers["Content-Type"] = "application/json";
    const reader = o.reader === undefined ? this.reader : o.reader;
    if (o.query && reader) {
      const sr = await signRead(reader, await this.chainId(), o.query);
      headers["Authorization"] = authorizationHeader(sr);
    }
    const signals = [AbortSignal.timeout(o.timeoutMs ?? this.#timeoutMs)];
    if (o.signal) signals.push(o.signal);
    let resp: Response;
    try {
      resp = await this.#fetch(this.url + path, {
        method,
        headers,
        body: o.body === undefined ? null : JSON.stringify(o.body),
        signal: AbortSignal.any(signals),
      });
    } catch (err) {
      throw new DsttError(`dstt: ${method} ${this.url}${path}: ${(err as Error).message}`, 0, "UNREACHABLE", undefined, { cause: err });
    }
    const text = await resp.text();
    if (resp.status !== 200) throw problemError(resp.status, text);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new DsttError(`dstt: ${method} ${path}: answer is not JSON`, resp.status, "INTERNAL");
    }
  }

  /** GET /v1/status. */
  async status(): Promise<Status> {
    return this.request<Status>("GET", "/v1/status", { reader: null });
  }

  /** The chain id (asked once). */
  async chainId(): Promise<string> {
    if (this.#chainId === undefined) {
      const st = await this.status();
      if (!st.chain_id) throw new DsttError("dstt: the gateway reported no chain id", 200, "INTERNAL");
      this.#chainId = st.chain_id;
    }
    return this.#chainId;
  }

  /** The latest committed height. */
  async latestHeight(): Promise<number> {
    return (await this.status()).latest_height ?? 0;
  }

  // ------------------------------------------------------------ txs

  /** Builds and signs a tx of ops: random nonce, valid until latest height + validFor. */
  async buildTx(opList: Op[], o: BuildOptions = {}): Promise<SignedTx> {
    const signers = o.signers ?? (this.signer ? [this.signer] : []);
    if (signers.length === 0) throw new Error("dstt: no signer (ClientOptions.signer or BuildOptions.signers)");
    const chainId = await this.chainId();
    const until = o.validUntilHeight ?? BigInt(await this.latestHeight()) + BigInt(o.validFor ?? this.validFor);
    const body = newTxBody(chainId, opList, {
      validUntilHeight: until,
      ...(o.nonce !== undefined ? { nonce: o.nonce } : {}),
      ...(o.memo !== undefined ? { memo: o.memo } : {}),
    });
    return signTx(body, signers);
  }

  /**
   * POST /v1/txs with a batch: one outcome per tx, in order. A tx that did
   * not get where mode asks is reported in its outcome, not thrown; a
   * request refused as a whole (bad encoding or signature in any tx, rate
   * limit...) throws.
   */
  async submit(txs: (SignedTx | Uint8Array)[], o: SubmitOptions = {}): Promise<SubmitResponse> {
    const mode = o.mode ?? "commit";
    const req: SubmitRequest = {
      txs: txs.map((t) => toBase64(t instanceof Uint8Array ? t : t.bytes)),
      mode,
      encoding: "base64",
    };
    if (mode === "commit" && o.timeoutMs !== undefined) req.timeout_ms = o.timeoutMs;
    const timeoutMs = (o.timeoutMs ?? 30_000) + 10_000;
    const res = await this.request<SubmitResponse>("POST", "/v1/txs", { body: req, reader: null, timeoutMs: Math.max(timeoutMs, this.#timeoutMs) });
    if (res.results.length !== txs.length) {
      throw new DsttError(`dstt: ${res.results.length} results for ${txs.length} txs`, 200, "INTERNAL");
    }
    return res;
  }

  /**
   * Submits one tx and returns its outcome once it is committed (mode
   * "commit") or admitted (mode "sync"); otherwise throws a TxError with its
   * code (CONFLICT, UNAUTHORIZED...) or a DsttError (COMMIT_TIMEOUT,
   * MEMPOOL_FULL...).
   */
  async broadcast(tx: SignedTx | Uint8Array, o: SubmitOptions = {}): Promise<TxOutcome> {
    const res = await this.submit([tx], o);
    const out = res.results[0] as TxOutcome;
    return checkOutcome(out);
  }

  /** Builds, signs and commits a tx of ops; throws TxError when it does not commit. */
  async commit(opList: Op[], o: BuildOptions & SubmitOptions = {}): Promise<TxOutcome> {
    return this.broadcast(await this.buildTx(opList, o), o);
  }

  // ------------------------------------------------------------ reads

  /**
   * GET /v1/kv/{key}: the value as of height (default: latest), or null
   * when the key does not exist there. Signed by the reader when there is one.
   */
  async get(key: string, o: { height?: number } = {}): Promise<Entry | null> {
    return (await this.getAt(key, o.height ?? 0)).entry;
  }

  /** get, also returning the height the answer is for. */
  async getAt(key: string, height: number): Promise<{ entry: Entry | null; height: number }> {
    const path = keyPath(key) + (height > 0 ? `?height=${height}` : "");
    try {
      const kv = await this.request<KVJSON>("GET", path, { query: kvGetQuery(key, BigInt(height)) });
      return { entry: entryFromJSON(kv), height: kv.height ?? height };
    } catch (err) {
      if (err instanceof DsttError && err.notFound) {
        return { entry: null, height: err.problem?.height ?? height };
      }
      throw err;
    }
  }

  /** GET /v1/kv/{key}/history: one page of versions, newest first. */
  async history(key: string, o: { before?: Version; limit?: number } = {}): Promise<HistoryPage> {
    const before = o.before ?? ZERO_VERSION;
    const limit = o.limit ?? 0;
    const q = new URLSearchParams();
    if (limit > 0) q.set("limit", String(limit));
    if (before.height !== 0n || before.txIndex !== 0) q.set("before", versionText(before));
    const qs = q.toString();
    const h = await this.request<HistoryJSON>("GET", keyPath(key) + "/history" + (qs ? "?" + qs : ""), {
      query: historyQuery(key, before, limit),
    });
    return { key: h.key, versions: h.versions.map(entryFromJSON), next: h.next ? parseVersion(h.next) : undefined };
  }

  /** Every version of key, newest first, following `next` page by page. */
  async *historyAll(key: string, pageSize = 100): AsyncGenerator<Entry> {
    let before: Version | undefined;
    for (;;) {
      const page = await this.history(key, { limit: pageSize, ...(before ? { before } : {}) });
      yield* page.versions;
      if (!page.next) return;
      before = page.next;
    }
  }

  /** GET /v1/txs/{hash}: a committed tx's result. */
  async tx(hash: string): Promise<TxResultJSON> {
    const h = hash.toUpperCase();
    return this.request<TxResultJSON>("GET", "/v1/txs/" + h, { query: txQuery(h) });
  }

  // ------------------------------------------------------------ txn, events

  /**
   * Runs fn as an optimistic transaction: reads at one snapshot height
   * (remembering versions), buffered writes, committed as one tx that checks
   * every version read; on CONFLICT fn runs again after a jittered backoff.
   */
  async txn<T = void>(fn: (t: Txn) => Promise<T> | T, o: TxnOptions = {}): Promise<TxnResult<T>> {
    return runTxn(this, fn, o);
  }

  /**
   * Streams committed writes under prefix (GET /v1/events), resuming with
   * Last-Event-ID after a dropped connection: no event lost or repeated.
   * Resolves once the gateway accepted the stream.
   */
  async subscribe(prefix: string, o: SubscribeOptions = {}): Promise<Subscription> {
    const s = new Subscription(this, prefix, o);
    await s.start();
    return s;
  }

  /** @internal the fetch and headers of an event stream connection. */
  async openEventStream(prefix: string, lastId: string | undefined, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { Accept: "text/event-stream" };
    if (lastId !== undefined) headers["Last-Event-ID"] = lastId;
    if (this.reader) {
      const sr = await signRead(this.reader, await this.chainId(), eventsQuery(readerAddress(this.reader), prefix));
      headers["Authorization"] = authorizationHeader(sr);
    }
    let resp: Response;
    try {
      resp = await this.#fetch(`${this.url}/v1/events?${new URLSearchParams({ prefix })}`, { headers, signal });
    } catch (err) {
      throw new DsttError(`dstt: GET ${this.url}/v1/events: ${(err as Error).message}`, 0, "UNREACHABLE", undefined, { cause: err });
    }
    if (resp.status !== 200) throw problemError(resp.status, await resp.text());
    return resp;
  }
}

/** Turns a problem document (or any non-200 body) into an error. */
export function problemError(status: number, text: string): DsttError {
  let p: Problem | undefined;
  try {
    p = JSON.parse(text) as Problem;
  } catch {
    p = undefined;
  }
  if (!p || typeof p.code !== "string" || !p.code) {
    return new DsttError(`dstt: HTTP ${status}: ${text.trim().slice(0, 200)}`, status, "INTERNAL");
  }
  return DsttError.fromProblem(p);
}

/** Throws for an outcome that is not committed/admitted. */
export function checkOutcome(out: TxOutcome): TxOutcome {
  if (out.status === "committed" || out.status === "admitted") return out;
  if (out.status === "pending") {
    throw new DsttError(`dstt: tx ${out.hash} admitted but not committed before the timeout`, 504, "COMMIT_TIMEOUT");
  }
  if (out.code === 0) {
    throw new DsttError(`dstt: tx ${out.hash} ${out.status}: ${out.code_name}${out.log ? ": " + out.log : ""}`, 503, out.code_name || "INTERNAL");
  }
  const where = out.status === "failed" ? `failed in block ${out.height ?? "?"}` : "refused by the mempool";
  throw new TxError(`dstt: tx ${out.hash} ${where}: ${out.code_name} (${out.code})${out.log ? ": " + out.log : ""}`, 200, out.code, out.hash, out.height ?? 0, out.log ?? "");
}
