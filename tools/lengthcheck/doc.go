// Command lengthcheck enforces the project's size rule: no function over 80
// lines and no file over 600 lines, tests and generated code aside.
//
// It parses every .go file of the main module (nested modules such as
// tools/vault, testdata/, vendor/, node_modules/ and dot or underscore
// directories are skipped; build tags are ignored, so every variant is
// checked), except _test.go files and files whose header says
// "// Code generated ... DO NOT EDIT.". A function's length is the lines its
// declaration spans, from the func keyword to the closing brace, doc comment
// excluded; a file's length is its number of lines.
//
// The rule is a ratchet. allow.txt lists today's offenders with their
// lengths. The check fails when a function or file is over the limit and not
// listed, or is listed and grew past its recorded length. A listed function
// that moved to another file (or a file that moved to another directory)
// keeps its allowance while it does not grow, so moving code is never
// blocked. Listed entries must shrink; -update rewrites allow.txt from the
// tree (dropping entries that are now within the limit and lowering the
// recorded lengths) and refuses to add new offenders; -init writes the list
// from scratch and only when there is none.
//
// Usage (from the module root; `make lengthcheck` does this):
//
//	go run ./tools/lengthcheck            # check
//	go run ./tools/lengthcheck -update    # tighten allow.txt after a shrink
//
// It owns the rule and allow.txt; it never edits Go code, and only -update
// or -init write allow.txt.
package main
