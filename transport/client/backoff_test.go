package client

import (
	"testing"
	"time"
)

func TestBackoffIsJitteredBoundedAndAdaptive(t *testing.T) {
	o := TxnOptions{BaseBackoff: 2 * time.Millisecond, MaxBackoff: 100 * time.Millisecond}
	var calm, busy contention
	for range 50 {
		busy.observe(true)
	}
	maxOf := func(c *contention, n int) (time.Duration, time.Duration) {
		lo, hi := time.Hour, time.Duration(0)
		for range 2000 {
			d := c.backoff(o, n)
			lo, hi = min(lo, d), max(hi, d)
		}
		return lo, hi
	}
	// No contention seen: attempt 1 waits below 2 ms, attempt 3 below 8 ms.
	if _, hi := maxOf(&calm, 1); hi >= 2*time.Millisecond {
		t.Errorf("calm retry 1: up to %s", hi)
	}
	if lo, hi := maxOf(&calm, 3); hi >= 8*time.Millisecond || hi < 4*time.Millisecond || lo > time.Millisecond {
		t.Errorf("calm retry 3: %s..%s (want jitter over [0, 8ms))", lo, hi)
	}
	// Under contention the base grows (up to 16x), never past MaxBackoff.
	if _, hi := maxOf(&busy, 1); hi < 10*time.Millisecond || hi >= 32*time.Millisecond {
		t.Errorf("busy retry 1: up to %s", hi)
	}
	if _, hi := maxOf(&busy, 40); hi >= o.MaxBackoff || hi < o.MaxBackoff/2 {
		t.Errorf("busy retry 40: up to %s, cap %s", hi, o.MaxBackoff)
	}
	// Successes bring it back down.
	for range 50 {
		busy.observe(false)
	}
	if _, hi := maxOf(&busy, 1); hi >= 3*time.Millisecond {
		t.Errorf("after successes: up to %s", hi)
	}
}
