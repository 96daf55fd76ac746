// @dstt/sdk: a TypeScript client for dstt. See README.md.

export * from "./bytes.js";
export * from "./codes.js";
export * from "./errors.js";
export * from "./keys.js";
export * from "./proto.js";
export * from "./sign.js";
export * from "./tx.js";
export * from "./auth.js";
export * from "./client.js";
export * from "./txn.js";
export * from "./events.js";
export type { components, paths, operations } from "./openapi.js";
export * from "./explorer.js";
