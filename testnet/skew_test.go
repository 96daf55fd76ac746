package testnet_test

// A node whose clock is minutes off. Namespaces cannot shift CLOCK_REALTIME and
// libfaketime does not reach Go, so the test builds a second dstt binary whose Go
// runtime reads a skewed wall clock: `go build -overlay` replaces the standard
// library's time.Now with one that adds DSTT_TEST_CLOCK_OFFSET (a Go duration) to
// the seconds of the wall reading, leaving the monotonic reading alone: as on a host
// whose CLOCK_REALTIME is off, every wall-clock read of that process (CometBFT's
// vote and proposal times and block-time check, dstt's signed-query window) is
// skewed, while timers and durations are not. The overlay lives in the test's temp
// dir; the product binary does not know the variable.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/transport/client/cometrpc"
)

// clockOffsetVar is read by the skewed test binary only.
const clockOffsetVar = "DSTT_TEST_CLOCK_OFFSET"

var (
	skewOnce sync.Once
	skewBin  string
	skewErr  error
)

// skewedBinary builds cmd/dstt with the standard library's time.Now patched through
// a build overlay (generated here, never in the source tree). The first build
// compiles everything against the patched package time (minutes); later ones come
// from the build cache.
func skewedBinary(tb testing.TB) string {
	tb.Helper()
	dsttBinary(tb) // the same skip rules
	skewOnce.Do(func() { skewBin, skewErr = buildSkewed() })
	if skewErr != nil {
		tb.Fatal(skewErr)
	}
	return skewBin
}

func buildSkewed() (string, error) {
	dir, err := os.MkdirTemp("", "dstt-testnet-skew-")
	if err != nil {
		return "", err
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOROOT: %v", err)
	}
	timeDir := filepath.Join(strings.TrimSpace(string(out)), "src", "time")
	src, err := os.ReadFile(filepath.Join(timeDir, "time.go"))
	if err != nil {
		return "", err
	}
	const at = "\tsec, nsec, mono := runtimeNow()\n"
	if strings.Count(string(src), at) != 1 {
		return "", fmt.Errorf("%s/time.go: time.Now does not read %q: the overlay needs updating for this Go", timeDir, strings.TrimSpace(at))
	}
	patched := strings.Replace(string(src), at, at+"\tsec += dsttClockOffset\n", 1)
	offset := `package time

import "syscall"

// dsttClockOffset (whole seconds) is added to every wall-clock reading.
var dsttClockOffset = func() int64 {
	v, _ := syscall.Getenv("` + clockOffsetVar + `")
	d, err := ParseDuration(v)
	if err != nil {
		return 0
	}
	return int64(d / Second)
}()
`
	overlay := map[string]map[string]string{"Replace": {
		filepath.Join(timeDir, "time.go"):                 filepath.Join(dir, "time.go"),
		filepath.Join(timeDir, "zz_dstt_clock_offset.go"): filepath.Join(dir, "offset.go"),
	}}
	ov, _ := json.Marshal(overlay)
	for name, data := range map[string]string{"time.go": patched, "offset.go": offset, "overlay.json": string(ov)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "dstt-skewed")
	// GOFLAGS (-tags=pebbledb from the Makefile) comes through the environment.
	cmd := exec.Command("go", "build", "-overlay", filepath.Join(dir, "overlay.json"), "-o", bin, "../cmd/dstt")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -overlay: %v\n%s", err, out)
	}
	return bin, nil
}

// TestClockSkew: four validators, node4 running the skewed binary 5 minutes ahead,
// the others the product binary with the same variable set (they must ignore it).
// Under the concurrent transfers: the chain keeps committing; node4's votes carry
// its skewed clock and the others' do not; every block time (BFT time, the weighted
// median of the votes) stays within seconds of real time, since one vote in four
// cannot move the median; node4 follows the chain (its block-time check passes with
// a clock ahead); it refuses signed queries from clients with a correct clock (the
// 30 s window); and the transfer invariants hold (the others' state read back,
// node4's through the app hash and blocks it agrees on).
func TestClockSkew(t *testing.T) {
	const skew = 5 * time.Minute
	bin := skewedBinary(t)
	t.Setenv(clockOffsetVar, skew.String())
	started := time.Now()
	c := newCluster(t, "tcp", 4)
	c.nodeBin = map[string]string{"node4": bin}
	c.startAll(t)
	skewed, honest := "node4", []string{"node1", "node2", "node3"}
	h0 := c.heights("node1")["node1"]
	// The transfers' signed reads through node4 are refused (checked below), so
	// their txs go through the others; the blind puts need no read.
	tr := c.startTransfers(t, "k", 4)
	l := c.startLoad(t, "kp", 2)
	want := 20 * faultScale()
	waitUntil(t, time.Duration(want)*4*time.Second, fmt.Sprintf("%d transfers and 10 puts through %s", want, skewed), func() (bool, string) {
		viaSkewed := l.count(func(a ack) bool { return a.node == skewed })
		return tr.count(nil) >= want && viaSkewed >= 10, tr.describe() + "; puts: " + l.describe()
	})
	l.stop()
	tr.stop()
	h := c.checkAgreement(t, c.names()...)
	// Blocks only come with txs: a block's time (its previous height's votes) can
	// be as old as the nodes' start, never later than now.
	checkBlockTimes(t, c, h0+1, h, started, time.Now().Add(time.Second))
	c.checkVoteClocks(t, h0+1, h, skewed, skew)
	checkSkewedReadRefused(t, c, skewed)
	tr.checkInvariants(t, honest...)
	c.checkAgreement(t, c.names()...) // node4 too, at the height the last txs took the chain to
	t.Logf("%s %s ahead: heights %d..%d committed; %d puts acknowledged, %d of them through %s", skewed, skew, h0+1, h, l.count(nil), l.count(func(a ack) bool { return a.node == skewed }), skewed)
}

// checkBlockTimes: every block of heights lo..hi has a time in [earliest, latest].
func checkBlockTimes(t *testing.T, c *cluster, lo, hi int64, earliest, latest time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for from := lo; from <= hi; from += 20 {
		res, err := c.rpc(t, "node1").BlockchainInfo(ctx, from, min(from+19, hi))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.BlockMetas {
			bt := m.Header.Time
			if bt.Before(earliest) || bt.After(latest) {
				t.Fatalf("block %d has time %s, outside the real time of the run [%s, %s]", m.Header.Height, bt, earliest, latest)
			}
		}
	}
	t.Logf("blocks %d..%d: every block time within the run's real time [%s, %s]", lo, hi, earliest.Format(time.TimeOnly), latest.Format(time.TimeOnly))
}

// checkVoteClocks: in each commit of heights lo..hi, the skewed validator's
// precommit is about skew later than the others', which are within seconds of each
// other (so the product binary ignored the variable).
func (c *cluster) checkVoteClocks(t *testing.T, lo, hi int64, skewed string, skew time.Duration) {
	t.Helper()
	addr := c.statuses()[skewed].ValidatorAddress
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	signed := 0
	for h := lo; h <= hi; h++ {
		res, err := c.rpc(t, "node1").Commit(ctx, &h)
		if err != nil {
			t.Fatalf("/commit %d: %v", h, err)
		}
		var mine, first, last time.Time
		for _, sig := range res.Commit.Signatures {
			switch {
			case sig.Signature == nil:
			case strings.EqualFold(sig.ValidatorAddress.String(), addr):
				mine = sig.Timestamp
			default:
				if first.IsZero() || sig.Timestamp.Before(first) {
					first = sig.Timestamp
				}
				if sig.Timestamp.After(last) {
					last = sig.Timestamp
				}
			}
		}
		if d := last.Sub(first); d > 10*time.Second {
			t.Fatalf("height %d: the product nodes' precommits are %s apart: a product node's clock moved", h, d)
		}
		if mine.IsZero() {
			continue
		}
		signed++
		if d := mine.Sub(first); d < skew-time.Minute || d > skew+time.Minute {
			t.Fatalf("height %d: %s's precommit is %s after the others', not about %s: the skew did not apply", h, skewed, d, skew)
		}
	}
	if signed == 0 {
		t.Fatalf("%s signed none of the commits of heights %d..%d", skewed, lo, hi)
	}
	t.Logf("%s's precommit in %d of %d commits, each about %s after the others' (which are within 10 s of each other)", skewed, signed, hi-lo+1, skew)
}

// checkSkewedReadRefused: a signed query with a correct clock is outside the skewed
// node's ±30 s window, so it refuses it (the client is told to check its clock).
func checkSkewedReadRefused(t *testing.T, c *cluster, skewed string) {
	t.Helper()
	n := c.node(t, skewed)
	cl, err := cometrpc.New(n.RPC)
	if err != nil {
		t.Fatal(err)
	}
	cl.SetReader(devSigner(t, n.Home))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _, err = cl.Get(ctx, accountKey("k", 0), 0)
	if err == nil || !strings.Contains(err.Error(), "node's clock") {
		t.Fatalf("%s answered a signed query timed by a clock 5 minutes behind its own: %v", skewed, err)
	}
	t.Logf("%s refuses signed queries from a correct clock: %v", skewed, err)
}
