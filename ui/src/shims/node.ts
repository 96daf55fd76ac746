// Stand-ins for the Node modules the SDK's Node-only key loader
// (Key.loadTestKeyring) imports: in a browser it fails with this error.
function nodeOnly(): never {
  throw new Error("dstt: reading a keyring directory needs Node; load a key file instead");
}
export const readFile = nodeOnly;
export const join = nodeOnly;
