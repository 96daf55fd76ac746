// Package doctest runs the command sequences of README.md and docs/*.md as
// tests, so that the docs show exactly the commands an operator types and the
// output they get.
//
// Every ```sh or ```console block in those files is preceded by a marker
// comment:
//
//	<!-- doctest: FLOW -->        the block is part of the flow FLOW
//	<!-- not tested: REASON -->   the block is not run, and says why
//
// The blocks of one flow, in the order they appear in one file, become one
// testscript (github.com/rogpeppe/go-internal/testscript, the way Go's own
// command line is tested): testdata/FLOW.txtar holds its prelude (servers to
// start, files to provide) and each command of the blocks runs in sh from
// the script's work directory, with the environment and working directory
// carried from one command to the next. In an sh block a full-line comment
// right after a command is output that command must print (stdout and stderr
// together); in a console block commands start with "$ " and every other line
// is output. An ellipsis "…" stands for any text and runs of spaces for any
// white space; each output line must appear in the command's output, in any
// order. A command whose expected output starts with "Error" must fail.
//
// Each flow runs in a work directory of its own, laid out like the
// repository's root for the docs' commands: HOME is WORK/home; dstt is on
// PATH and at ./dstt and bin/dstt; the testnet scripts are at testnet/*.sh
// (so they use bin/dstt and testnet/out there); the Vault binary the tests
// built ($DSTT_VAULT_BIN) is on PATH as vault. A flow gets free ports of its
// own ($PORT0 … $PORT15; $PORT_REST, $PORT_RPC, $PORT_P2P, $PORT_METRICS for
// one node; $PORT_RANGE, the first of 100 consecutive ones below the
// ephemeral range, for a testnet's base port), which its prelude hands to the
// doc (flags, or variables the doc's commands read), so that flows and other
// tests run side by side. Whatever a flow leaves running (a testnet's nodes,
// a server started with "&" inside a command) is killed when it ends.
//
// The package owns that translation and its rules; it never changes a doc.
package doctest
