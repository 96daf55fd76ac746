//go:build race

package testnet_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// raceEnabled: this test binary is built with -race, so the dstt binary the
// tests build and run is built with -race too (dsttBinary).
const raceEnabled = true

// TestMain has the dstt processes the tests start write their race reports
// to files (GORACE log_path) and fails the run if there are any: a node that
// is killed, or whose output no test reads, would otherwise hide a race.
func TestMain(m *testing.M) {
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
		for _, race := range ownRaces(string(b)) {
			fmt.Fprintf(os.Stderr, "--- FAIL: a dstt process reported a data race (%s):\n%s\n", filepath.Base(r), race)
			code = 1
		}
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// upstreamRaces name, by a frame of their report, races inside dependencies
// that dstt cannot fix: CometBFT v0.40's Node.OnStart sets isListening after
// its RPC server is up, unsynchronised with /net_info reading IsListening
// (which the harness polls while nodes start).
var upstreamRaces = []string{"github.com/cometbft/cometbft/node.(*Node).IsListening()"}

// ownRaces splits a race log into its reports and drops the upstream ones.
func ownRaces(log string) []string {
	var races []string
	for _, race := range strings.Split(log, "WARNING: DATA RACE")[1:] {
		if !slices.ContainsFunc(upstreamRaces, func(frame string) bool { return strings.Contains(race, frame) }) {
			races = append(races, "WARNING: DATA RACE"+race)
		}
	}
	return races
}
