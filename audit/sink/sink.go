package sink

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/dstt/dstt/audit"
)

// Sink delivers entries to one receiver. Send returns nil only once the
// receiver has acknowledged every entry of the batch, in the receiver's
// terms: TCP and TLS syslog, the write and flush succeeded; HTTP, a 2xx
// answer (and no per-item failure for a bulk request; for Splunk HEC, the
// indexer acknowledgement of the batch's ackId); file, the write and
// fsync succeeded. Send is called by one goroutine at a time; Close once.
type Sink interface {
	Name() string
	Send(ctx context.Context, entries []audit.Entry) error
	Close() error
}

// Rewinder is implemented by sinks whose acknowledgement does not prove
// that the receiver processed the data: a TCP write succeeds once the
// kernel has the bytes, and a receiver that dies loses what sat in socket
// buffers. After a failed Send, ResendFrom returns the first seq that may
// have been lost that way (the entries sent within the last ResendBytes on
// the broken connection); the shipper sends again from there. Duplicates
// are identifiable by seq.
type Rewinder interface {
	ResendFrom() (seq uint64, ok bool)
}

// Acknowledger is implemented by sinks whose receiver confirms a batch
// later than it answers the request carrying it (Splunk HEC with indexer
// acknowledgement). When AckPolicy().Window > 0 the shipper keeps up to
// Window batches in flight instead of calling Send: Post sends one and
// returns its ticket once the receiver accepted it; Acknowledged asks, in
// one request, which tickets are now confirmed (a receiver may forget a
// ticket once it answered true). The cursor advances only over a prefix of
// confirmed batches; a batch unconfirmed after Timeout is posted again.
// Used by one goroutine at a time, like Send.
type Acknowledger interface {
	AckPolicy() AckPolicy
	Post(ctx context.Context, entries []audit.Entry) (ticket uint64, err error)
	Acknowledged(ctx context.Context, tickets []uint64) (map[uint64]bool, error)
}

// AckPolicy is how an Acknowledger wants to be driven.
type AckPolicy struct {
	Window       int           // batches in flight; 0: use Send
	Timeout      time.Duration // a batch unconfirmed this long is posted again
	PollInterval time.Duration // longest wait between Acknowledged calls
}

// ErrSinkDown is what a MemorySink switched off with SetDown returns.
var ErrSinkDown = errors.New("sink: receiver unavailable")

// MemorySink is the in-memory twin: it keeps what it receives. Safe for
// concurrent use.
type MemorySink struct {
	name    string
	mu      sync.Mutex
	got     []audit.Entry
	down    error
	sends   int
	changed chan struct{}
}

var _ Sink = (*MemorySink)(nil)

// NewMemorySink returns an empty sink.
func NewMemorySink(name string) *MemorySink {
	return &MemorySink{name: name, changed: make(chan struct{})}
}

// Name implements Sink.
func (m *MemorySink) Name() string { return m.name }

// Send implements Sink.
func (m *MemorySink) Send(ctx context.Context, entries []audit.Entry) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sends++
	if m.down != nil {
		return m.down
	}
	for _, e := range entries {
		m.got = append(m.got, e.Clone())
	}
	close(m.changed)
	m.changed = make(chan struct{})
	return nil
}

// Close implements Sink.
func (m *MemorySink) Close() error { return nil }

// SetDown makes Send fail with err (nil: accept again).
func (m *MemorySink) SetDown(err error) {
	m.mu.Lock()
	m.down = err
	m.mu.Unlock()
}

// Received returns a copy of everything accepted, in order.
func (m *MemorySink) Received() []audit.Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]audit.Entry, len(m.got))
	copy(out, m.got)
	return out
}

// Sends counts Send calls, failed ones included.
func (m *MemorySink) Sends() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sends
}

// Changed returns a channel closed when entries are next accepted.
func (m *MemorySink) Changed() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.changed
}
