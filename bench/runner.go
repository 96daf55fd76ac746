package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Outcome is what happened to one tx.
type Outcome int

// Outcomes.
const (
	Committed Outcome = iota // in a block, code 0
	Aborted                  // in a block with CONFLICT: a version check lost
	Failed                   // anything else (refused, other code, error)
)

// Result is one tx's outcome; Reason says why it failed.
type Result struct {
	Outcome Outcome
	Reason  string
}

// Workload is what the runner drives. Do performs one request (which may
// hold several txs) and reports one Result per tx; an error fails them
// all. Do is called from many goroutines at once; worker is the caller's
// index (0..Concurrency-1 in closed loop; a request counter in open loop).
type Workload interface {
	Do(ctx context.Context, worker int) ([]Result, error)
	// TxsPerRequest is how many txs one Do submits.
	TxsPerRequest() int
}

// Modes.
const (
	ModeOpen   = "open"   // requests start at a target rate, however long earlier ones take
	ModeClosed = "closed" // Concurrency workers, each starting its next request when the last ends
)

// Config is a run's shape.
type Config struct {
	Mode string
	// Rate is the target tx/s (open loop).
	Rate float64
	// Concurrency: closed loop, the number of workers; open loop, the most
	// requests in flight (a request due when all are busy waits, and its
	// latency counts from when it was due: no coordinated omission).
	Concurrency int
	// Warmup runs first and is not measured; Duration is measured.
	Warmup, Duration time.Duration
	// Drain bounds the wait for requests still in flight at the end.
	Drain time.Duration
	// Progress, when set, gets a live line every ProgressEvery.
	Progress      io.Writer
	ProgressEvery time.Duration
	// ProgressCR rewrites the line in place (a terminal) instead of
	// printing one line each time.
	ProgressCR bool
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var probs []string
	switch c.Mode {
	case ModeOpen:
		if c.Rate <= 0 {
			probs = append(probs, fmt.Sprintf("open loop needs a rate > 0 (got %g)", c.Rate))
		}
	case ModeClosed:
	default:
		probs = append(probs, fmt.Sprintf("mode %q: want open or closed", c.Mode))
	}
	if c.Concurrency < 1 {
		probs = append(probs, fmt.Sprintf("concurrency %d: want >= 1", c.Concurrency))
	}
	if c.Duration <= 0 || c.Warmup < 0 {
		probs = append(probs, fmt.Sprintf("duration %s, warmup %s: want duration > 0, warmup >= 0", c.Duration, c.Warmup))
	}
	if len(probs) > 0 {
		return errors.New("bench: " + strings.Join(probs, "; "))
	}
	return nil
}

// Report is a run's outcome. The JSON field names are stable (scripts
// read committed_tps, abort_rate, p50_ms, p95_ms, p99_ms).
type Report struct {
	Target        string         `json:"target,omitempty"`
	Mode          string         `json:"mode"`
	Rate          float64        `json:"rate,omitempty"`
	Concurrency   int            `json:"concurrency"`
	TxsPerRequest int            `json:"txs_per_request"`
	DurationS     float64        `json:"duration_s"`
	Committed     int64          `json:"committed"`
	Aborted       int64          `json:"aborted"`
	Failed        int64          `json:"failed"`
	CommittedTPS  float64        `json:"committed_tps"`
	AbortRate     float64        `json:"abort_rate"`
	P50ms         float64        `json:"p50_ms"`
	P95ms         float64        `json:"p95_ms"`
	P99ms         float64        `json:"p99_ms"`
	MaxMs         float64        `json:"max_ms"`
	MeanMs        float64        `json:"mean_ms"`
	Histogram     []Bucket       `json:"histogram"`
	Failures      map[string]int `json:"failures,omitempty"`
	Extra         map[string]any `json:"extra,omitempty"`
}

// stats aggregates results.
type stats struct {
	mu        sync.Mutex
	hist      *Histogram
	committed int64
	aborted   int64
	failed    int64
	failures  map[string]int
	// progress counters (warmup included)
	live atomic.Int64
}

func (s *stats) record(lat time.Duration, rs []Result, measured bool) {
	var c, a, f int64
	for _, r := range rs {
		switch r.Outcome {
		case Committed:
			c++
		case Aborted:
			a++
		default:
			f++
		}
	}
	s.live.Add(c)
	if !measured {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed += c
	s.aborted += a
	s.failed += f
	for _, r := range rs {
		if r.Outcome == Committed {
			s.hist.Record(lat)
		}
		if r.Outcome == Failed {
			reason := r.Reason
			if len(reason) > 120 {
				reason = reason[:120]
			}
			if len(s.failures) < 50 || s.failures[reason] > 0 {
				s.failures[reason]++
			}
		}
	}
}

// Run drives w as cfg says and reports what was committed in the measured
// window. Latency is per committed tx: from when its request was due (open
// loop) or started (closed loop) until the request returned.
func Run(ctx context.Context, cfg Config, w Workload) (Report, error) {
	if err := cfg.Validate(); err != nil {
		return Report{}, err
	}
	if cfg.Drain <= 0 {
		cfg.Drain = 30 * time.Second
	}
	per := max(1, w.TxsPerRequest())
	st := &stats{hist: NewHistogram(), failures: map[string]int{}}
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// Requests in flight at the end may finish during the drain; they are
	// not counted (they belong to the window only in part).
	doOne := func(worker int, due time.Time) {
		reqCtx, rc := context.WithDeadline(runCtx, end.Add(cfg.Drain))
		defer rc()
		rs, err := w.Do(reqCtx, worker)
		done := time.Now()
		if err != nil {
			rs = make([]Result, per)
			for i := range rs {
				rs[i] = Result{Outcome: Failed, Reason: err.Error()}
			}
		}
		st.record(done.Sub(due), rs, !done.Before(measureFrom) && !done.After(end))
	}

	progressDone := make(chan struct{})
	if cfg.Progress != nil {
		go st.progress(cfg, start, measureFrom, end, progressDone)
	} else {
		close(progressDone)
	}
	var wg sync.WaitGroup
	switch cfg.Mode {
	case ModeClosed:
		for worker := range cfg.Concurrency {
			wg.Go(func() {
				for {
					now := time.Now()
					if !now.Before(end) || runCtx.Err() != nil {
						return
					}
					doOne(worker, now)
				}
			})
		}
	case ModeOpen:
		interval := time.Duration(float64(time.Second) * float64(per) / cfg.Rate)
		sem := make(chan struct{}, cfg.Concurrency)
		for k := 0; ; k++ {
			due := start.Add(time.Duration(k) * interval)
			if !due.Before(end) || runCtx.Err() != nil {
				break
			}
			if d := time.Until(due); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-t.C:
				case <-runCtx.Done():
					t.Stop()
				}
			}
			select {
			case sem <- struct{}{}:
			case <-runCtx.Done():
			}
			if runCtx.Err() != nil {
				break
			}
			wg.Go(func() {
				defer func() { <-sem }()
				doOne(k, due)
			})
		}
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(time.Until(end.Add(cfg.Drain))):
		cancel()
		<-waited
	}
	if cfg.Progress != nil {
		progressDone <- struct{}{}
	}
	<-progressDone

	st.mu.Lock()
	defer st.mu.Unlock()
	secs := cfg.Duration.Seconds()
	r := Report{
		Mode: cfg.Mode, Concurrency: cfg.Concurrency, TxsPerRequest: per, DurationS: secs,
		Committed: st.committed, Aborted: st.aborted, Failed: st.failed,
		CommittedTPS: float64(st.committed) / secs,
		P50ms:        ms(st.hist.Quantile(0.50)), P95ms: ms(st.hist.Quantile(0.95)), P99ms: ms(st.hist.Quantile(0.99)),
		MaxMs: ms(st.hist.Max()), MeanMs: ms(st.hist.Mean()), Histogram: st.hist.Buckets(),
	}
	if cfg.Mode == ModeOpen {
		r.Rate = cfg.Rate
	}
	if n := st.committed + st.aborted; n > 0 {
		r.AbortRate = float64(st.aborted) / float64(n)
	}
	if len(st.failures) > 0 {
		r.Failures = st.failures
	}
	return r, ctx.Err()
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// progress prints a live line until told to stop (a value on done), then
// closes done.
func (s *stats) progress(cfg Config, start, measureFrom, end time.Time, done chan struct{}) {
	every := cfg.ProgressEvery
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last, lastAt := int64(0), start
	for {
		select {
		case <-done:
			if cfg.ProgressCR {
				fmt.Fprintln(cfg.Progress)
			}
			close(done)
			return
		case now := <-t.C:
			n := s.live.Load()
			rate := float64(n-last) / now.Sub(lastAt).Seconds()
			last, lastAt = n, now
			s.mu.Lock()
			p50, p99 := s.hist.Quantile(0.5), s.hist.Quantile(0.99)
			abort := 0.0
			if t := s.committed + s.aborted; t > 0 {
				abort = 100 * float64(s.aborted) / float64(t)
			}
			s.mu.Unlock()
			phase := "measuring"
			switch {
			case now.Before(measureFrom):
				phase = "warmup"
			case now.After(end):
				phase = "draining"
			}
			line := fmt.Sprintf("[%5.1fs %-9s] %8.0f tx/s committed  total %d  aborts %.1f%%  p50 %.1fms  p99 %.1fms",
				now.Sub(start).Seconds(), phase, rate, n, abort, ms(p50), ms(p99))
			if cfg.ProgressCR {
				fmt.Fprintf(cfg.Progress, "\r%-100s", line)
			} else {
				fmt.Fprintln(cfg.Progress, line)
			}
		}
	}
}

// WriteText prints a report for people.
func (r Report) WriteText(w io.Writer) {
	if r.Target != "" {
		fmt.Fprintf(w, "target            %s\n", r.Target)
	}
	load := fmt.Sprintf("closed loop, %d workers", r.Concurrency)
	if r.Mode == ModeOpen {
		load = fmt.Sprintf("open loop, %.0f tx/s offered, at most %d requests in flight", r.Rate, r.Concurrency)
	}
	fmt.Fprintf(w, "load              %s, %d txs per request, %.0fs measured\n", load, r.TxsPerRequest, r.DurationS)
	fmt.Fprintf(w, "committed         %d txs  (%.0f tx/s)\n", r.Committed, r.CommittedTPS)
	fmt.Fprintf(w, "aborted           %d  (abort rate %.2f%%)\n", r.Aborted, 100*r.AbortRate)
	fmt.Fprintf(w, "failed            %d\n", r.Failed)
	fmt.Fprintf(w, "commit latency    p50 %.1f ms  p95 %.1f ms  p99 %.1f ms  max %.1f ms  mean %.1f ms\n", r.P50ms, r.P95ms, r.P99ms, r.MaxMs, r.MeanMs)
	if len(r.Histogram) > 0 {
		fmt.Fprintln(w, "latency histogram (committed txs)")
		var top int64
		for _, b := range r.Histogram {
			top = max(top, b.Count)
		}
		for _, b := range r.Histogram {
			bar := strings.Repeat("#", int(40*b.Count/max(top, 1)))
			fmt.Fprintf(w, "  <= %8.1f ms %9d %s\n", b.LeMs, b.Count, bar)
		}
	}
	if len(r.Failures) > 0 {
		fmt.Fprintln(w, "failures")
		keys := make([]string, 0, len(r.Failures))
		for k := range r.Failures {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(w, "  %6d  %s\n", r.Failures[k], k)
		}
	}
}
