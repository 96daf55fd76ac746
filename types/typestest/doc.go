// Package typestest builds txs for tests: keys derived from names (Key,
// Addr), the ops every package's tests write (Put, Delete, Check, Policy,
// Grant, Revoke, AddValidator), signed txs for the test chain (SignTx,
// GovTx), and the re-encoded variants of a signed tx that an attacker can
// build without any key: the same body and signatures in another encoding,
// or the signatures duplicated or reordered. Tests send the variants to
// every entry point and expect each to be refused.
//
// It owns test fixtures only; it never decides validity (what a tx means is
// types' and the engine's), and product code never imports it.
package typestest
