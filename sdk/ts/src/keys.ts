// Ed25519 keys: generation, seeds, addresses, and the Go keyring's
// unencrypted ("test" backend) key file.

import { ed25519 } from "@noble/curves/ed25519.js";
import { sha256 } from "@noble/hashes/sha2.js";
import { equalBytes, fromBase64, fromHex, toBase64, toHex } from "./bytes.js";

export const SEED_SIZE = 32;
export const PUB_KEY_SIZE = 32;
export const SIGNATURE_SIZE = 64;
/** Length of an address in bytes (40 hex digits). */
export const ADDRESS_LEN = 20;

/** A signer's address: the first 20 bytes of SHA-256(pubKey), lower-case hex. */
export function address(pubKey: Uint8Array): string {
  if (pubKey.length !== PUB_KEY_SIZE) throw new Error(`dstt: a public key is ${PUB_KEY_SIZE} bytes, got ${pubKey.length}`);
  return toHex(sha256(pubKey).subarray(0, ADDRESS_LEN));
}

/** Verifies an ed25519 signature (RFC 8032, as Go's crypto/ed25519). */
export function verify(pubKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  try {
    return ed25519.verify(signature, message, pubKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Anything that can sign: a local Key, or an adapter for a remote signer. */
export interface Signer {
  readonly pubKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

/** The Go keyring's unencrypted key file (DIR/keyring/test/NAME.key). */
export interface PlainKeyFile {
  version: 1;
  type: "ed25519";
  warning: string;
  address: string;
  /** base64 (Go encodes []byte as standard base64 in JSON) */
  pub_key: string;
  /** base64 of the 32-byte seed, in clear */
  seed: string;
}

const UNENCRYPTED_WARNING = "UNENCRYPTED test key: for tests and the dev node only, never for real funds or validators";

/** A local ed25519 key pair. */
export class Key implements Signer {
  readonly pubKey: Uint8Array;
  readonly address: string;
  readonly #seed: Uint8Array;

  private constructor(seed: Uint8Array) {
    if (seed.length !== SEED_SIZE) throw new Error(`dstt: an ed25519 seed is ${SEED_SIZE} bytes, got ${seed.length}`);
    this.#seed = seed.slice();
    this.pubKey = ed25519.getPublicKey(this.#seed);
    this.address = address(this.pubKey);
  }

  /** A new random key. */
  static generate(): Key {
    return new Key(ed25519.utils.randomSecretKey());
  }

  /** The key of a 32-byte seed (Go's ed25519.NewKeyFromSeed). */
  static fromSeed(seed: Uint8Array | string): Key {
    return new Key(typeof seed === "string" ? fromHex(seed) : seed);
  }

  /**
   * Parses an unencrypted key file of the Go keyring (the "test" backend):
   * checks its version, type, seed size, and that the public key matches
   * both the seed and the stored address.
   */
  static fromKeyFile(json: string | PlainKeyFile): Key {
    const f = (typeof json === "string" ? JSON.parse(json) : json) as Partial<PlainKeyFile>;
    if (f.version !== 1) throw new Error(`dstt: key file version ${String(f.version)}, want 1`);
    if (f.type !== "ed25519" || typeof f.seed !== "string" || typeof f.pub_key !== "string") {
      throw new Error("dstt: not an unencrypted ed25519 key file (encrypted key files need the Go CLI)");
    }
    const k = new Key(fromBase64(f.seed));
    if (!equalBytes(k.pubKey, fromBase64(f.pub_key)) || k.address !== f.address) {
      throw new Error("dstt: key file's public key or address does not match its seed");
    }
    return k;
  }

  /** Reads NAME.key from a node home's test keyring (HOME/keyring/test). */
  static async loadTestKeyring(home: string, name: string): Promise<Key> {
    // Node only; imported here so that the SDK loads in browsers too.
    const { readFile } = await import("node:fs/promises");
    const { join } = await import("node:path");
    return Key.fromKeyFile(await readFile(join(home, "keyring", "test", `${name}.key`), "utf8"));
  }

  /** The 32-byte seed (keep it secret). */
  seed(): Uint8Array {
    return this.#seed.slice();
  }

  /** The key file the Go keyring's test backend writes (UNENCRYPTED). */
  toKeyFile(): string {
    const f: PlainKeyFile = {
      version: 1,
      type: "ed25519",
      warning: UNENCRYPTED_WARNING,
      address: this.address,
      pub_key: toBase64(this.pubKey),
      seed: toBase64(this.#seed),
    };
    return JSON.stringify(f, null, 2);
  }

  /** Deterministic ed25519 signature (RFC 8032). */
  sign(message: Uint8Array): Uint8Array {
    return ed25519.sign(message, this.#seed);
  }

  /** Hex of the public key. */
  get pubKeyHex(): string {
    return toHex(this.pubKey);
  }
}
