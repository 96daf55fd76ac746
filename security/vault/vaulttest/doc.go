// Package vaulttest runs a real HashiCorp Vault dev server for tests: `vault
// server -dev` (or -dev-tls) on a free 127.0.0.1 port, with the transit
// engine mounted, plus helpers for policies, tokens, AppRole and sealing.
//
// The binary is $DSTT_VAULT_BIN, else the one `make test-deps` builds
// (~/.cache/dstt/vault-1.21.0/vault), else `vault` on $PATH. Without one,
// Start skips the test with a loud message, unless $DSTT_REQUIRE_VAULT is
// set (make test sets it): then the test fails. Each Server is one child
// process, killed when the test ends; its memory-only storage disappears
// with it.
//
// It owns the dev server process and its temp files for one test; it never
// holds a key outside that server, and product code never imports it.
package vaulttest
