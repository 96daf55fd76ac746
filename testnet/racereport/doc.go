// Package racereport makes race reports of child processes fail a test
// run. A test binary built with -race builds and starts dstt processes
// built with -race too; their reports go to stderr and an exit code that a
// test which kills its nodes never sees. Main points the children's reports
// at files (GORACE log_path) and fails the run for every report that is not
// a known race inside a dependency.
//
// It owns the report files of one test run; it never changes how a child
// runs beyond GORACE's log_path, and product code never imports it.
package racereport
