// Command dstt runs a dstt node and talks to one: keys, transactions,
// queries. It is a thin layer over the packages; see `dstt --help`.
//
// Each command parses flags, calls a package function (keyring, consensus,
// transport/client, audit, ...) and prints its result. The command owns flag
// names, output formats and exit codes; it never holds a rule of its own:
// what a command checks or computes lives in the package it calls.
package main
