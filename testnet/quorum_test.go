package testnet_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/testnet"
)

// Summarize calls a chain halted when no node answers, when the validators
// that answer (and are not catching up) hold no more than 2/3 of the power,
// or when txs wait and the last block is older than the stall limit; an
// idle chain with its quorum online is not halted however old its block.
func TestSummarizeQuorum(t *testing.T) {
	vals := map[string]int64{"A": 10, "B": 10, "C": 10, "D": 10}
	node := func(addr string, h int64, pending int) testnet.NodeStatus {
		return testnet.NodeStatus{Name: "n" + addr, ValidatorAddress: addr, Height: h, PendingTxs: pending}
	}
	down := func(addr string) testnet.NodeStatus {
		return testnet.NodeStatus{Name: "n" + addr, ValidatorAddress: addr, Error: "connection refused"}
	}
	catchingUp := node("D", 3, 0)
	catchingUp.CatchingUp = true
	full := testnet.NodeStatus{Name: "full", ValidatorAddress: "E", Height: 9} // not a validator
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	committed := now.Add(-3 * time.Second)
	old := now.Add(-time.Hour)

	for _, tc := range []struct {
		name      string
		statuses  []testnet.NodeStatus
		committed time.Time
		online    int64
		halted    string // "" when not halted, else a part of the reason
	}{
		{"all up", []testnet.NodeStatus{node("A", 9, 0), node("B", 9, 2), node("C", 9, 0), node("D", 9, 0)}, committed, 40, ""},
		{"3 of 4", []testnet.NodeStatus{node("A", 9, 5), node("B", 9, 0), node("C", 9, 0), down("D")}, committed, 30, ""},
		{"2 of 4", []testnet.NodeStatus{node("A", 9, 5), node("B", 9, 0), down("C"), down("D")}, committed, 20, "20 of 40 voting power online, a block needs more than 2/3 (27)"},
		{"2 of 4 and a catching-up one", []testnet.NodeStatus{node("A", 9, 0), node("B", 9, 0), down("C"), catchingUp}, committed, 20, "20 of 40"},
		{"full nodes hold no power", []testnet.NodeStatus{node("A", 9, 0), node("B", 9, 0), down("C"), down("D"), full}, committed, 20, "20 of 40"},
		{"idle for an hour", []testnet.NodeStatus{node("A", 9, 0), node("B", 9, 0), node("C", 9, 0), node("D", 9, 0)}, old, 40, ""},
		{"txs wait, no block for an hour", []testnet.NodeStatus{node("A", 9, 0), node("B", 9, 3), node("C", 9, 0), node("D", 9, 0)}, old, 40, "3 txs wait and no block for 1h0m0s (over 10s)"},
		{"nothing answers", []testnet.NodeStatus{down("A"), down("B"), down("C"), down("D")}, time.Time{}, 0, "no node answers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := vals
			if tc.name == "nothing answers" {
				v = nil
			}
			q := testnet.Summarize(tc.statuses, v, tc.committed, now, testnet.DefaultStallAfter)
			stalled := strings.HasPrefix(tc.name, "txs wait") // the halt Observe confirms by watching
			if q.OnlinePower != tc.online || q.Halted != (tc.halted != "") || !strings.Contains(q.Reason, tc.halted) || q.Stalled != stalled {
				t.Errorf("Summarize = %+v; want online %d, halted %q", q, tc.online, tc.halted)
			}
			if q.HasQuorum != (3*tc.online > 2*40) || (v != nil && (q.TotalPower != 40 || q.Validators != 4 || q.Height != 9 || q.Needed() != 27)) {
				t.Errorf("Summarize = %+v", q)
			}
		})
	}
	if q := testnet.Summarize([]testnet.NodeStatus{node("A", 9, 1)}, vals, committed, now, testnet.DefaultStallAfter); q.AgeSeconds != 3 || q.PendingTxs != 1 {
		t.Errorf("age/pending: %+v", q)
	}
}
