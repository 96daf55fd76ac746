package client_test

import (
	"context"
	"testing"
	"time"

	"github.com/dstt/dstt/transport/internal/testnode"
)

// A commit wait over the gateway is not capped by CometBFT's
// timeout_broadcast_tx_commit (10 s): a tx whose block comes 12 s after
// the previous one (timeout_commit) is reported committed, not pending.
func TestCommitWaitBeyondCometBFTsBroadcastTimeout(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for a 12 s block interval; skipped with -short")
	}
	const interval = 12 * time.Second
	n := testnode.Start(t, testnode.Options{TimeoutCommit: interval})
	c := n.AdminClient(t)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*interval)
	defer cancel()
	if _, err := c.SubmitOps(ctx, putOp("a", "1")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	res, err := c.SubmitOps(ctx, putOp("b", "1")) // its block waits for timeout_commit
	if err != nil {
		t.Fatalf("a commit wait of %s over the gateway: %v", time.Since(start).Round(time.Millisecond), err)
	}
	if took := time.Since(start); took < 10*time.Second {
		t.Fatalf("the second tx committed after %s: the test needs a wait beyond CometBFT's 10 s", took)
	}
	if res.Height < 2 {
		t.Fatalf("result %+v", res)
	}
}
