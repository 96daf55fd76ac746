package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/dstt/dstt/audit"
)

// ShipperOptions tune a Shipper. Zero values take the defaults.
type ShipperOptions struct {
	Chain        string        // label for metrics and logs: "consensus" or "node"
	BatchSize    int           // entries per Send (default 1000)
	PollInterval time.Duration // how often to look for new entries without a notification (default 1 s)
	SendTimeout  time.Duration // bound on one Send (default 30 s)
	MinBackoff   time.Duration // first retry delay (default 100 ms)
	MaxBackoff   time.Duration // retry delay cap (default 30 s)
	Metrics      *Metrics      // nil: no metrics
	Logger       *slog.Logger  // nil: silent
}

func (o ShipperOptions) withDefaults() ShipperOptions {
	if o.Chain == "" {
		o.Chain = "consensus"
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 30 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 100 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = max(30*time.Second, o.MinBackoff)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Status is a snapshot of a shipper.
type Status struct {
	Sink   string
	Chain  string
	Cursor audit.ChainHead // where shipping goes on from: the last acknowledged entry, or before it while resending
	Head   uint64          // the source's head seq when last read
	// Acknowledged is the highest seq the receiver acknowledged since the
	// shipper started (from the stored cursor on); it never goes back.
	Acknowledged uint64
	Failures     uint64 // failed attempts since start
	LastError    string // "" after a success
}

// Lag is how many entries the receiver has not acknowledged.
func (s Status) Lag() uint64 {
	if s.Head > s.Acknowledged {
		return s.Head - s.Acknowledged
	}
	return 0
}

// Shipper moves one chain's entries from a Source to one Sink, at least
// once and in order: read a batch after the cursor, check it continues the
// chain (hashes and links from the cursor on: a sink only ever receives a
// verified chain), send, and only after the receiver's acknowledgement save
// the cursor. A failure is retried with exponential backoff (MinBackoff
// doubling to MaxBackoff, with jitter), forever: dropping entries would
// break at-least-once. Each shipper runs in its own goroutine, so a down
// sink delays nothing but itself, and catches up from its cursor.
type Shipper struct {
	src     audit.Source
	sink    Sink
	cursors CursorStore
	opts    ShipperOptions
	wake    chan struct{}

	mu      sync.Mutex
	status  Status
	changed chan struct{} // closed and replaced whenever status changes
}

// NewShipper returns a shipper; Run starts it.
func NewShipper(src audit.Source, sink Sink, cursors CursorStore, opts ShipperOptions) *Shipper {
	opts = opts.withDefaults()
	return &Shipper{
		src: src, sink: sink, cursors: cursors, opts: opts, wake: make(chan struct{}, 1),
		status:  Status{Sink: sink.Name(), Chain: opts.Chain},
		changed: make(chan struct{}),
	}
}

// Notify wakes the shipper to look for new entries now (the engine calls it
// after Commit). It never blocks.
func (s *Shipper) Notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Status returns a snapshot.
func (s *Shipper) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.status
	st.Cursor.Hash = append([]byte(nil), st.Cursor.Hash...)
	return st
}

// StatusChanged returns a channel closed when the status next changes (a
// batch acknowledged, a failure, a new head seen). Take it before reading
// Status to wait for a condition without missing a change.
func (s *Shipper) StatusChanged() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// changedLocked wakes StatusChanged waiters; s.mu is held.
func (s *Shipper) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Shipper) labels() []string { return []string{s.sink.Name(), s.opts.Chain} }

func (s *Shipper) fail(err error) {
	s.mu.Lock()
	s.status.Failures++
	s.status.LastError = err.Error()
	s.changedLocked()
	s.mu.Unlock()
	if m := s.opts.Metrics; m != nil {
		m.Failures.WithLabelValues(s.labels()...).Inc()
		m.Up.WithLabelValues(s.labels()...).Set(0)
	}
	s.opts.Logger.Warn("audit sink failed; will retry", "sink", s.sink.Name(), "chain", s.opts.Chain, "err", err)
}

func (s *Shipper) setHead(head uint64) {
	s.mu.Lock()
	if head > s.status.Head {
		s.status.Head = head
		s.changedLocked()
	}
	s.mu.Unlock()
}

func (s *Shipper) acked(cursor audit.ChainHead, n int) {
	s.mu.Lock()
	s.status.Cursor = cursor
	s.status.Head = max(s.status.Head, cursor.Seq)
	s.status.Acknowledged = max(s.status.Acknowledged, cursor.Seq)
	s.status.LastError = ""
	s.changedLocked()
	acked := s.status.Acknowledged
	s.mu.Unlock()
	if m := s.opts.Metrics; m != nil {
		m.Cursor.WithLabelValues(s.labels()...).Set(float64(acked))
		m.Position.WithLabelValues(s.labels()...).Set(float64(cursor.Seq))
		m.Shipped.WithLabelValues(s.labels()...).Add(float64(n))
		m.Up.WithLabelValues(s.labels()...).Set(1)
	}
}

// sleep waits d (with up to 20% jitter), for ctx, or for Notify when wake
// is true.
func (s *Shipper) sleep(ctx context.Context, d time.Duration, wake bool) {
	d += time.Duration(rand.Int64N(int64(d)/5 + 1))
	t := time.NewTimer(d)
	defer t.Stop()
	var changed <-chan struct{}
	if n, ok := s.src.(audit.Notifier); ok && wake {
		changed = n.Changed()
	}
	var woken chan struct{}
	if wake {
		woken = s.wake
	}
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-woken:
	case <-changed:
	}
}

// Run ships until ctx ends, then returns ctx's error. Errors along the way
// are retried (and counted, logged and visible in Status); only a cursor
// that cannot be read stops Run early.
func (s *Shipper) Run(ctx context.Context) error {
	cursor, err := s.cursors.Load(s.sink.Name())
	if err != nil {
		return fmt.Errorf("sink %s: load cursor: %w", s.sink.Name(), err)
	}
	s.mu.Lock()
	s.status.Cursor = cursor
	s.status.Acknowledged = cursor.Seq
	s.mu.Unlock()
	if m := s.opts.Metrics; m != nil {
		m.Cursor.WithLabelValues(s.labels()...).Set(float64(cursor.Seq))
		m.Position.WithLabelValues(s.labels()...).Set(float64(cursor.Seq))
		defer m.running(s)()
	}
	if a, ok := s.sink.(Acknowledger); ok && a.AckPolicy().Window > 0 {
		return s.runPipelined(ctx, a, cursor)
	}
	retry, reset := s.retrier(ctx)
	for ctx.Err() == nil {
		changed, head, err := s.observeHead(ctx)
		if err != nil {
			retry(err)
			continue
		}
		if head.Seq <= cursor.Seq {
			s.waitForEntries(ctx, changed)
			continue
		}
		var shipped int
		if cursor, shipped, err = s.shipBatch(ctx, cursor, head); err != nil {
			retry(err)
			continue
		}
		s.acked(cursor, shipped)
		reset()
	}
	return ctx.Err()
}

// observeHead takes the source's change channel (nil if it has none) and
// then reads and records its head: a notification that arrives while
// reading is not lost.
func (s *Shipper) observeHead(ctx context.Context) (<-chan struct{}, audit.ChainHead, error) {
	var changed <-chan struct{}
	if n, ok := s.src.(audit.Notifier); ok {
		changed = n.Changed()
	}
	head, err := s.src.Head(ctx)
	if err != nil {
		return changed, head, fmt.Errorf("read head: %w", err)
	}
	s.setHead(head.Seq)
	return changed, head, nil
}

// retrier returns retry, which records a failure and sleeps the backoff
// (MinBackoff doubling up to MaxBackoff), and reset, which goes back to
// MinBackoff after a success.
func (s *Shipper) retrier(ctx context.Context) (retry func(error), reset func()) {
	backoff := s.opts.MinBackoff
	retry = func(err error) {
		s.fail(err)
		s.sleep(ctx, backoff, false)
		backoff = min(2*backoff, s.opts.MaxBackoff)
	}
	return retry, func() { backoff = s.opts.MinBackoff }
}

// waitForEntries waits for the source to change (changed, nil if it does
// not tell), a Wake, the poll interval, or the end of ctx.
func (s *Shipper) waitForEntries(ctx context.Context, changed <-chan struct{}) {
	t := time.NewTimer(s.opts.PollInterval)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-s.wake:
	case <-changed:
	}
}

// shipBatch sends the entries after cursor, up to head and at most a
// batch, and saves the new cursor. It returns the cursor to go on from
// (the last entry sent; after an error, cursor, or where a Rewinder asked
// to resend from) and how many entries were shipped.
func (s *Shipper) shipBatch(ctx context.Context, cursor, head audit.ChainHead) (audit.ChainHead, int, error) {
	entries, err := s.readVerified(ctx, cursor, min(s.opts.BatchSize, int(head.Seq-cursor.Seq)))
	if err != nil {
		return cursor, 0, err
	}
	sctx, cancel := context.WithTimeout(ctx, s.opts.SendTimeout)
	err = s.sink.Send(sctx, entries)
	cancel()
	if err != nil {
		if rw, ok := s.sink.(Rewinder); ok {
			if from, ok := rw.ResendFrom(); ok && from <= cursor.Seq {
				cursor, err = s.rewind(ctx, from, err)
			}
		}
		return cursor, 0, err
	}
	last := entries[len(entries)-1]
	next := audit.ChainHead{Seq: last.Seq, Hash: last.Hash}
	if err := s.cursors.Save(s.sink.Name(), next); err != nil {
		// The receiver has the entries; they will be sent again.
		return cursor, 0, fmt.Errorf("save cursor: %w", err)
	}
	return next, len(entries), nil
}

// readVerified reads up to limit entries after prev and checks that they
// continue the chain from prev: a sink only ever receives a verified
// continuation of what it acknowledged before.
func (s *Shipper) readVerified(ctx context.Context, prev audit.ChainHead, limit int) ([]audit.Entry, error) {
	entries, err := s.src.Entries(ctx, prev.Seq+1, limit)
	if err != nil {
		return nil, fmt.Errorf("read entries from %d: %w", prev.Seq+1, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("source has no entries after %d", prev.Seq)
	}
	v := audit.NewVerifier(prev)
	for i := range entries {
		if err := v.Add(&entries[i]); err != nil {
			return nil, fmt.Errorf("source chain does not verify, not shipping it: %w", err)
		}
	}
	return entries, nil
}

// rewind moves the cursor back to just before from (the receiver may have
// lost what followed) and saves it, so a restart resends too.
func (s *Shipper) rewind(ctx context.Context, from uint64, cause error) (audit.ChainHead, error) {
	var back audit.ChainHead
	if from > 1 {
		es, err := s.src.Entries(ctx, from-1, 1)
		if err != nil || len(es) == 0 || es[0].Seq != from-1 {
			return s.Status().Cursor, errors.Join(cause, fmt.Errorf("rewind to %d: read entry %d: %v", from, from-1, err))
		}
		back = audit.ChainHead{Seq: es[0].Seq, Hash: es[0].Hash}
	}
	if err := s.cursors.Save(s.sink.Name(), back); err != nil {
		return s.Status().Cursor, errors.Join(cause, fmt.Errorf("rewind: save cursor: %w", err))
	}
	s.mu.Lock()
	s.status.Cursor = back
	s.mu.Unlock()
	if m := s.opts.Metrics; m != nil {
		m.Position.WithLabelValues(s.labels()...).Set(float64(back.Seq))
	}
	s.opts.Logger.Info("audit sink resends entries a broken connection may have lost", "sink", s.sink.Name(), "from", from)
	return back, fmt.Errorf("%w (resending from seq %d)", cause, from)
}
