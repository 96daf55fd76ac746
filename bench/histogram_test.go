package bench

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestHistogramQuantilesWithin3Percent(t *testing.T) {
	h := NewHistogram()
	r := rand.New(rand.NewPCG(1, 2))
	var vals []time.Duration
	for range 100_000 {
		d := time.Duration(r.ExpFloat64()*20e6) + 100*time.Microsecond // ~20ms mean
		vals = append(vals, d)
		h.Record(d)
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.95, 0.99, 0.999} {
		want := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if diff := float64(got-want) / float64(want); diff < -0.001 || diff > 0.035 {
			t.Errorf("q%.3f = %s, exact %s (%.1f%%)", q, got, want, 100*diff)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Count() != int64(len(vals)) {
		t.Error("max/count")
	}
	var n int64
	for _, b := range h.Buckets() {
		n += b.Count
	}
	if n != h.Count() {
		t.Errorf("buckets hold %d of %d", n, h.Count())
	}
}

func TestBucketBoundsAreMonotonic(t *testing.T) {
	prev := -1
	for us := uint64(0); us < 1<<22; us += 1 + us/64 {
		b := bucketOf(us)
		if b < prev || upper(b) < us || (b > 0 && upper(b-1) >= us) {
			t.Fatalf("value %d in bucket %d [.., %d], previous upper %d", us, b, upper(b), upper(b-1))
		}
		prev = b
	}
}
