package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records durations in log-linear buckets: 32 sub-buckets per
// power of two of microseconds, so a quantile is within ~3% of the true
// value. Not safe for concurrent use.
type Histogram struct {
	counts [64 * subBuckets]int64
	n      int64
	sum    time.Duration
	max    time.Duration
}

const subBits = 5
const subBuckets = 1 << subBits

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram { return &Histogram{} }

func bucketOf(us uint64) int {
	if us < subBuckets {
		return int(us)
	}
	exp := bits.Len64(us) - 1 - subBits // >= 0
	mant := us >> uint(exp)             // in [subBuckets, 2*subBuckets)
	return (exp+1)*subBuckets + int(mant-subBuckets)
}

// upper is the largest value (µs) bucket i holds.
func upper(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	exp := i/subBuckets - 1
	mant := uint64(i%subBuckets + subBuckets)
	return (mant+1)<<uint(exp) - 1
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d.Microseconds()))]++
	h.n++
	h.sum += d
	h.max = max(h.max, d)
}

// Count is the number of values recorded.
func (h *Histogram) Count() int64 { return h.n }

// Max is the largest value recorded.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean is the average value.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Quantile returns the value at quantile q (0..1): the upper bound of the
// bucket holding it, capped at the maximum.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(math.Ceil(q * float64(h.n)))
	rank = max(rank, 1)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			return min(time.Duration(upper(i))*time.Microsecond, h.max)
		}
	}
	return h.max
}

// Bucket is one bar of a printed histogram: values up to LeMs.
type Bucket struct {
	LeMs  float64 `json:"le_ms"`
	Count int64   `json:"count"`
}

// displayBounds are the printed histogram's upper bounds, in ms.
var displayBounds = []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, math.Inf(1)}

// Buckets folds the fine buckets into a printable histogram (only the
// bounds up to the largest value recorded).
func (h *Histogram) Buckets() []Bucket {
	if h.n == 0 {
		return nil
	}
	out := make([]Bucket, len(displayBounds))
	for i := range out {
		out[i].LeMs = displayBounds[i]
	}
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		v := float64(upper(i)) / 1000
		for j, b := range displayBounds {
			if v <= b || j == len(displayBounds)-1 {
				out[j].Count += c
				break
			}
		}
	}
	last := 0
	for i, b := range out {
		if b.Count > 0 {
			last = i
		}
	}
	out = out[:last+1]
	if math.IsInf(out[len(out)-1].LeMs, 1) {
		out[len(out)-1].LeMs = float64(h.max.Microseconds()) / 1000
	}
	return out
}
