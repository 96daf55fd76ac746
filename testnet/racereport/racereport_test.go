package racereport

import (
	"strings"
	"testing"
)

func TestOwnDropsUpstreamRaces(t *testing.T) {
	log := "WARNING: DATA RACE\nRead at ...\n  github.com/cometbft/cometbft/node.(*Node).IsListening()\n" +
		"WARNING: DATA RACE\nWrite at ...\n  github.com/dstt/dstt/transport/rest.(*hub).run()\n"
	got := Own(log)
	if len(got) != 1 || !strings.Contains(got[0], "transport/rest") {
		t.Fatalf("own races: %q", got)
	}
	if len(Own("no races here")) != 0 {
		t.Fatal("a log without reports has races")
	}
}
