// Errors: every failure the gateway reports is an RFC 9457 problem document
// with a stable `code`; DsttError carries it. A tx that ends with a non-zero
// result code is a TxError with the numeric code.

import type { components } from "./openapi.js";
import { Code, codeName } from "./codes.js";

export type Problem = components["schemas"]["Problem"];

/** A failure reported by the gateway (or the transport). */
export class DsttError extends Error {
  override name = "DsttError";
  /** HTTP status (0 when the gateway was not reached). */
  readonly status: number;
  /** Stable machine-readable code: a gateway code (FORBIDDEN, NOT_READY...) or a tx result code name. */
  readonly code: string;
  /** The problem document, when the gateway sent one. */
  readonly problem: Problem | undefined;

  constructor(message: string, status: number, code: string, problem?: Problem, options?: ErrorOptions) {
    super(message, options);
    this.status = status;
    this.code = code;
    this.problem = problem;
  }

  static fromProblem(p: Problem): DsttError {
    const msg = `${p.title} (${p.status} ${p.code})${p.detail ? ": " + p.detail : ""}`;
    if (p.tx_code !== undefined) {
      return new TxError(msg, p.status, p.tx_code, p.tx_hash ?? "", p.height ?? 0, p.detail ?? "", p);
    }
    return new DsttError(msg, p.status, p.code, p);
  }

  /** The key, tx or path does not exist (404 NOT_FOUND). */
  get notFound(): boolean {
    return this.code === "NOT_FOUND";
  }

  /** The reader or signer lacks a permission, or the read was not authenticated. */
  get unauthorized(): boolean {
    return this.code === "FORBIDDEN" || this.code === "UNAUTHORIZED";
  }

  /** Worth retrying later: rate limit, full mempool, node not ready, lagged stream. */
  get busy(): boolean {
    return ["RATE_LIMITED", "MEMPOOL_FULL", "NOT_READY", "TOO_MANY_STREAMS", "EVENTS_LAGGED"].includes(this.code);
  }
}

/** A tx that did not commit: refused by CheckTx, or failed in its block. */
export class TxError extends DsttError {
  override name = "TxError";
  /** The numeric tx result code (Code.CONFLICT...). */
  readonly txCode: number;
  readonly hash: string;
  /** The block it failed in (0 when refused before any block). */
  readonly height: number;
  readonly log: string;

  constructor(message: string, status: number, txCode: number, hash: string, height: number, log: string, problem?: Problem) {
    super(message, status, codeName(txCode), problem);
    this.txCode = txCode;
    this.hash = hash;
    this.height = height;
    this.log = log;
  }

  get conflict(): boolean {
    return this.txCode === Code.CONFLICT;
  }
}
