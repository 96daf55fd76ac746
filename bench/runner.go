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
	r := newRun(cfg, w)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopProgress := r.startProgress()
	var wg sync.WaitGroup
	switch cfg.Mode {
	case ModeClosed:
		r.closedLoop(runCtx, &wg)
	case ModeOpen:
		r.openLoop(runCtx, &wg)
	}
	r.awaitDrain(&wg, cancel)
	stopProgress()
	return r.st.report(cfg, r.per), ctx.Err()
}

// run is one Run in progress: its window and what it measured so far.
type run struct {
	cfg Config
	w   Workload
	per int // txs per request
	st  *stats
	// start is when it began, measureFrom when the warmup ended and the
	// measured window began, end when that window ends.
	start, measureFrom, end time.Time
}

func newRun(cfg Config, w Workload) *run {
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	return &run{
		cfg: cfg, w: w, per: max(1, w.TxsPerRequest()),
		st:    &stats{hist: NewHistogram(), failures: map[string]int{}},
		start: start, measureFrom: measureFrom, end: measureFrom.Add(cfg.Duration),
	}
}

// do performs one request that was due at due and records its results;
// an error fails all of its txs. Requests in flight at the end may finish
// during the drain; they are not counted (they belong to the window only
// in part).
func (r *run) do(ctx context.Context, worker int, due time.Time) {
	reqCtx, cancel := context.WithDeadline(ctx, r.end.Add(r.cfg.Drain))
	defer cancel()
	rs, err := r.w.Do(reqCtx, worker)
	done := time.Now()
	if err != nil {
		rs = make([]Result, r.per)
		for i := range rs {
			rs[i] = Result{Outcome: Failed, Reason: err.Error()}
		}
	}
	r.st.record(done.Sub(due), rs, !done.Before(r.measureFrom) && !done.After(r.end))
}

// closedLoop starts Concurrency workers, each starting its next request
// when the last one returns, until the window ends.
func (r *run) closedLoop(ctx context.Context, wg *sync.WaitGroup) {
	for worker := range r.cfg.Concurrency {
		wg.Go(func() {
			for {
				now := time.Now()
				if !now.Before(r.end) || ctx.Err() != nil {
					return
				}
				r.do(ctx, worker, now)
			}
		})
	}
}

// openLoop starts requests at the target rate until the window ends, at
// most Concurrency in flight: a request due when all are busy waits for a
// slot, and its latency counts from when it was due.
func (r *run) openLoop(ctx context.Context, wg *sync.WaitGroup) {
	interval := time.Duration(float64(time.Second) * float64(r.per) / r.cfg.Rate)
	sem := make(chan struct{}, r.cfg.Concurrency)
	for k := 0; ; k++ {
		due := r.start.Add(time.Duration(k) * interval)
		if !due.Before(r.end) || ctx.Err() != nil {
			return
		}
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			r.do(ctx, k, due)
		})
	}
}

// awaitDrain waits for the requests in flight, and cancels them (calling
// cancel) if they are still running when the drain time is up.
func (r *run) awaitDrain(wg *sync.WaitGroup, cancel context.CancelFunc) {
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(time.Until(r.end.Add(r.cfg.Drain))):
		cancel()
		<-waited
	}
}

// startProgress starts the live progress line when cfg asks for one; stop
// ends it and waits until it has.
func (r *run) startProgress() (stop func()) {
	if r.cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	go r.st.progress(r.cfg, r.start, r.measureFrom, r.end, done)
	return func() {
		done <- struct{}{}
		<-done
	}
}

// report is the Report of the measured window; per is the txs per request.
func (s *stats) report(cfg Config, per int) Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	secs := cfg.Duration.Seconds()
	r := Report{
		Mode: cfg.Mode, Concurrency: cfg.Concurrency, TxsPerRequest: per, DurationS: secs,
		Committed: s.committed, Aborted: s.aborted, Failed: s.failed,
		CommittedTPS: float64(s.committed) / secs,
		P50ms:        ms(s.hist.Quantile(0.50)), P95ms: ms(s.hist.Quantile(0.95)), P99ms: ms(s.hist.Quantile(0.99)),
		MaxMs: ms(s.hist.Max()), MeanMs: ms(s.hist.Mean()), Histogram: s.hist.Buckets(),
	}
	if cfg.Mode == ModeOpen {
		r.Rate = cfg.Rate
	}
	if n := s.committed + s.aborted; n > 0 {
		r.AbortRate = float64(s.aborted) / float64(n)
	}
	if len(s.failures) > 0 {
		r.Failures = s.failures
	}
	return r
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
