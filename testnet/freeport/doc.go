// Package freeport picks 127.0.0.1 TCP ports for tests that start real
// listeners or processes: dstt nodes, Vault dev servers, rsyslog receivers.
//
// A port is free when it is bound and closed before it is returned, so
// another process may take it in between; callers that can retry on
// "address in use" should. Every port comes from below the kernel's
// ephemeral range, where no outgoing connection takes it meanwhile (a port
// the kernel gave to a listener on port 0 is the next one it may give to a
// test's HTTP client), and none is handed out twice in one process. Port and
// Ports pick single ports; Range picks n consecutive ports for a testnet's
// base port, from a separate band. All fail the test (t.Fatal) when the host
// has no port to give. Safe for concurrent use.
//
// It keeps no port reserved (no listener outlives the call); it only
// remembers, for the life of the process, which ports it handed out. Product
// code never imports it.
package freeport
