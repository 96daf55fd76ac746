// Package freeport picks 127.0.0.1 TCP ports for tests that start real
// listeners or processes: dstt nodes, Vault dev servers, rsyslog receivers.
//
// A port is free when it is picked and closed before it is returned, so
// another process may take it in between; callers that can retry on
// "address in use" should. Ports picks n distinct ports by holding all n
// listeners open until the last is picked. Range picks n consecutive ports
// (TCP and UDP) below the ephemeral range, for a testnet's base port. All
// fail the test (t.Fatal) when the host has no port to give. Safe for
// concurrent use.
//
// It owns nothing past the call: it never keeps a port reserved, and product
// code never imports it.
package freeport
