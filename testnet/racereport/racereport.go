package racereport

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// Upstream names, by a frame of their report, races inside dependencies
// that dstt cannot fix: CometBFT v0.40's Node.OnStart sets isListening after
// its RPC server is up, unsynchronised with /net_info reading IsListening.
var Upstream = []string{"github.com/cometbft/cometbft/node.(*Node).IsListening()"}

// Main runs the tests, then cleanups (a package's built binaries), and
// exits: with 1 if a child process reported a race of its own.
func Main(m *testing.M, cleanups ...func()) {
	dir, err := os.MkdirTemp("", "dstt-race-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	gorace := strings.TrimSpace(os.Getenv("GORACE") + " log_path=" + filepath.Join(dir, "report"))
	if err := os.Setenv("GORACE", gorace); err != nil { // read by the children only
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	code := m.Run()
	reports, _ := filepath.Glob(filepath.Join(dir, "report.*"))
	for _, r := range reports {
		b, _ := os.ReadFile(r)
		for _, race := range Own(string(b)) {
			fmt.Fprintf(os.Stderr, "--- FAIL: a dstt process reported a data race (%s):\n%s\n", filepath.Base(r), race)
			code = 1
		}
	}
	_ = os.RemoveAll(dir)
	for _, f := range cleanups {
		f()
	}
	os.Exit(code)
}

// Own splits a race log into its reports and drops the Upstream ones.
func Own(log string) []string {
	var races []string
	for _, race := range strings.Split(log, "WARNING: DATA RACE")[1:] {
		if !slices.ContainsFunc(Upstream, func(frame string) bool { return strings.Contains(race, frame) }) {
			races = append(races, "WARNING: DATA RACE"+race)
		}
	}
	return races
}
