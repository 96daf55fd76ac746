// The SDK's Node-only key loader imports these lazily; the browser build
// never calls it. Declared so the explorer type-checks without @types/node.
declare module "node:fs/promises" {
  export function readFile(path: string, encoding: "utf8"): Promise<string>;
}
declare module "node:path" {
  export function join(...parts: string[]): string;
}
