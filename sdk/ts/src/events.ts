// Event subscriptions: GET /v1/events as Server-Sent Events, resumed with
// Last-Event-ID after any dropped connection (transport/rest/events.go,
// transport/client/subscribe.go).
//
// Every write has an id HEIGHT.INDEX.WRITE; a bare HEIGHT is a checkpoint
// that stands after every write of that block (the gateway sends one with
// keep-alives, so a resumed stream skips blocks that had nothing for this
// subscriber). The subscription remembers the last position it saw and
// reconnects with it; positions at or before it are dropped, so a resumed
// stream that overlaps never delivers an event twice.

import type { Client, WriteEvent } from "./client.js";
import { DsttError } from "./errors.js";

export interface SubscribeOptions {
  /** Resume after this event id (a WriteEvent's id, or a checkpoint height). */
  after?: string;
  /** Start at the first write of this height (otherwise: the next committed block). */
  fromHeight?: number;
  /** Give up after this many reconnects in a row without progress (default 20). */
  maxFailures?: number;
  /**
   * Called with every position the stream passes: each write's id, and the
   * checkpoints (bare heights) the gateway sends after replaying stored
   * blocks and with keep-alives, so a caller knows how far it has seen.
   */
  onPosition?: (id: string) => void;
}

/** An event position: [height, tx index, write index]. */
export type EventPos = readonly [bigint, bigint, bigint];

const CHECKPOINT_TX = 0xffffffffn;
const CHECKPOINT_WRITE = 0x7fffffffn;

/** Parses "H.I.W" or a checkpoint "H". */
export function parseEventId(s: string): EventPos {
  const t = s.trim();
  let m = /^(\d+)$/.exec(t);
  if (m) return [BigInt(m[1] as string), CHECKPOINT_TX, CHECKPOINT_WRITE];
  m = /^(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (!m) throw new Error(`dstt: bad event id ${JSON.stringify(s)} (want HEIGHT.INDEX.WRITE or HEIGHT)`);
  return [BigInt(m[1] as string), BigInt(m[2] as string), BigInt(m[3] as string)];
}

/** Commit-order comparison of two positions. */
export function compareEventPos(a: EventPos, b: EventPos): number {
  for (let i = 0; i < 3; i++) {
    if (a[i] !== b[i]) return (a[i] as bigint) < (b[i] as bigint) ? -1 : 1;
  }
  return 0;
}

/** Text form of a position (the checkpoint form for a checkpoint). */
export function eventIdText(p: EventPos): string {
  return p[1] === CHECKPOINT_TX && p[2] === CHECKPOINT_WRITE ? `${p[0]}` : `${p[0]}.${p[1]}.${p[2]}`;
}

type Frame = { id: string | undefined; event: string | undefined; data: string | undefined };

/** Reads SSE frames from a body stream. */
async function* frames(body: ReadableStream<Uint8Array>): AsyncGenerator<Frame> {
  const dec = new TextDecoder();
  let buf = "";
  let id: string | undefined;
  let event: string | undefined;
  let data: string[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += dec.decode(chunk, { stream: true });
    for (;;) {
      const nl = buf.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + (buf.startsWith("\r\n", nl) ? 2 : 1));
      if (line === "") {
        if (id !== undefined || event !== undefined || data.length > 0) {
          yield { id, event, data: data.length > 0 ? data.join("\n") : undefined };
        }
        id = event = undefined;
        data = [];
        continue;
      }
      if (line.startsWith(":")) continue; // a comment
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "id") id = value;
      else if (field === "event") event = value;
      else if (field === "data") data.push(value);
    }
  }
}

/**
 * A stream of committed writes under a prefix, in commit order, without gaps
 * or repeats. Iterate it with `for await`; `close()` ends it. A failure that
 * retrying cannot fix (refused, bad request) or too many reconnects without
 * progress ends the iteration with a DsttError.
 */
export class Subscription implements AsyncIterable<WriteEvent> {
  readonly prefix: string;
  /** How many times the stream reconnected. */
  reconnects = 0;
  readonly #client: Client;
  readonly #maxFailures: number;
  readonly #onPosition: ((id: string) => void) | undefined;
  #last: EventPos | undefined;
  #closed = false;
  #closer = new AbortController();
  #conn: AbortController | undefined;
  #first: Response | undefined;

  constructor(client: Client, prefix: string, o: SubscribeOptions) {
    this.#client = client;
    this.prefix = prefix;
    this.#maxFailures = o.maxFailures ?? 20;
    this.#onPosition = o.onPosition;
    if (o.after !== undefined) this.#last = parseEventId(o.after);
    else if (o.fromHeight !== undefined && o.fromHeight >= 1) this.#last = parseEventId(String(o.fromHeight - 1));
  }

  /** The last position delivered (or passed by a checkpoint): pass it as `after` to resume later. */
  get lastId(): string | undefined {
    return this.#last ? eventIdText(this.#last) : undefined;
  }

  /** @internal opens the first connection. */
  async start(): Promise<void> {
    this.#first = await this.#open();
  }

  async #open(): Promise<Response> {
    this.#conn = new AbortController();
    return this.#client.openEventStream(this.prefix, this.lastId, AbortSignal.any([this.#conn.signal, this.#closer.signal]));
  }

  /** Drops the current connection (as a network failure would); the stream resumes by itself. */
  dropConnection(): void {
    this.#conn?.abort(new Error("connection dropped"));
  }

  /** Ends the subscription. */
  close(): void {
    this.#closed = true;
    this.#closer.abort(new Error("subscription closed"));
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<WriteEvent> {
    let failures = 0;
    let delay = 100;
    try {
      while (!this.#closed) {
        const before = this.#last;
        let resp: Response | undefined = this.#first;
        this.#first = undefined;
        try {
          resp ??= await this.#open();
          for await (const f of frames(resp.body as ReadableStream<Uint8Array>)) {
            if (f.event === "error") {
              const p = JSON.parse(f.data ?? "{}");
              const err = DsttError.fromProblem(p);
              if (err.code === "EVENTS_LAGGED") break; // resume from where we are
              throw err;
            }
            if (f.id === undefined) continue;
            const pos = parseEventId(f.id);
            if (this.#last && compareEventPos(pos, this.#last) <= 0) continue; // overlap of a resumed stream
            this.#last = pos;
            if (f.event === "write" && f.data !== undefined) yield JSON.parse(f.data) as WriteEvent;
            this.#onPosition?.(f.id);
          }
        } catch (err) {
          if (this.#closed) return;
          if (err instanceof DsttError && err.status >= 400 && err.status < 500 && err.status !== 429) throw err;
          // a dropped connection, or a busy gateway: reconnect below
        }
        if (this.#closed) return;
        const progressed = this.#last !== undefined && (before === undefined || compareEventPos(before, this.#last) < 0);
        if (progressed) {
          failures = 0;
          delay = 100;
        }
        if (++failures > this.#maxFailures) {
          throw new DsttError(`dstt: event stream failed ${failures - 1} times in a row`, 0, "UNREACHABLE");
        }
        this.reconnects++;
        if (!progressed) {
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(2 * delay, 5000);
        }
      }
    } finally {
      this.#closer.abort();
    }
  }
}
