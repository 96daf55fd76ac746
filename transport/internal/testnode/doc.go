// Package testnode runs a real single-validator dstt node for tests, built
// by the same assembler as `dstt start` (consensus/assemble): the engine on
// a Pebble store in a temp dir, the node security log and its hooks, the
// audit sinks of an optional audit.toml, CometBFT in-process on free
// loopback ports, and the REST gateway in front of it (metrics on their own
// free loopback port).
//
// It owns the test node's temp home, ports and lifecycle (stopped with the
// test) and the admin key it signs with; it never assembles a node its own
// way, so every in-process test runs the composition that ships, and nothing
// outside transport's tests imports it.
package testnode
