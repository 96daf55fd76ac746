package bench

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// fakeWorkload answers after delay, aborting every abortEvery-th tx.
type fakeWorkload struct {
	delay      time.Duration
	batch      int
	abortEvery int64
	failAll    bool
	n          atomic.Int64
	inFlight   atomic.Int64
	maxFlight  atomic.Int64
}

func (f *fakeWorkload) TxsPerRequest() int { return f.batch }

func (f *fakeWorkload) Do(ctx context.Context, _ int) ([]Result, error) {
	cur := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxFlight.Load()
		if cur <= m || f.maxFlight.CompareAndSwap(m, cur) {
			break
		}
	}
	t := time.NewTimer(f.delay)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.failAll {
		return nil, errors.New("boom")
	}
	rs := make([]Result, f.batch)
	for i := range rs {
		if f.abortEvery > 0 && f.n.Add(1)%f.abortEvery == 0 {
			rs[i].Outcome = Aborted
		}
	}
	return rs, nil
}

func TestClosedLoop(t *testing.T) {
	w := &fakeWorkload{delay: 10 * time.Millisecond, batch: 5, abortEvery: 10}
	r, err := Run(context.Background(), Config{Mode: ModeClosed, Concurrency: 4, Warmup: 100 * time.Millisecond, Duration: time.Second}, w)
	if err != nil {
		t.Fatal(err)
	}
	// 4 workers x 5 txs / 10 ms = 2000 tx/s at most; allow for a slow machine.
	if r.CommittedTPS < 500 || r.CommittedTPS > 2000 || r.Failed != 0 {
		t.Fatalf("report %+v", r)
	}
	if r.AbortRate < 0.08 || r.AbortRate > 0.12 {
		t.Errorf("abort rate %.3f, want ~0.1", r.AbortRate)
	}
	if r.P50ms < 10 || r.P99ms < r.P50ms || r.TxsPerRequest != 5 || w.maxFlight.Load() > 4 {
		t.Errorf("latency %.1f/%.1f, max in flight %d", r.P50ms, r.P99ms, w.maxFlight.Load())
	}
}

func TestOpenLoopCountsFromDueTime(t *testing.T) {
	// 200 tx/s offered, 1 tx per request, but each takes 50 ms and only 2
	// may be in flight: the node keeps up with 40/s, and latency grows
	// because it is counted from when each request was due.
	w := &fakeWorkload{delay: 50 * time.Millisecond, batch: 1}
	r, err := Run(context.Background(), Config{Mode: ModeOpen, Rate: 200, Concurrency: 2, Duration: time.Second, Drain: 100 * time.Millisecond}, w)
	if err != nil {
		t.Fatal(err)
	}
	if r.CommittedTPS > 45 || r.P99ms < 200 {
		t.Fatalf("open loop hid the backlog: %+v", r)
	}
	if w.maxFlight.Load() > 2 {
		t.Errorf("%d requests in flight, limit 2", w.maxFlight.Load())
	}
}

func TestFailuresAreCounted(t *testing.T) {
	w := &fakeWorkload{delay: time.Millisecond, batch: 2, failAll: true}
	r, err := Run(context.Background(), Config{Mode: ModeClosed, Concurrency: 1, Duration: 200 * time.Millisecond}, w)
	if err != nil {
		t.Fatal(err)
	}
	if r.Committed != 0 || r.Failed == 0 || r.Failures["boom"] != int(r.Failed) {
		t.Fatalf("%+v", r)
	}
}

func TestParseMix(t *testing.T) {
	m, err := ParseMix("put=80, rmw=15,hot=5")
	if err != nil || m != (Mix{Put: 80, RMW: 15, Hot: 5}) {
		t.Fatalf("%+v %v", m, err)
	}
	for _, bad := range []string{"", "put=0", "put=x", "cas=1", "put"} {
		if _, err := ParseMix(bad); err == nil {
			t.Errorf("ParseMix(%q) accepted", bad)
		}
	}
}
