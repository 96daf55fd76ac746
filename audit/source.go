package audit

import (
	"context"
	"errors"
	"sync"
)

// Source is where sinks, export and verify read a chain from. The engine
// (consensus chain) and NodeLog (node chain) implement it; RPCSource reads
// the consensus chain from a node over CometBFT RPC; InMemorySource is the
// twin for tests.
//
// Contract for Entries: the entries with Seq >= fromSeq (fromSeq 0 means 1)
// in ascending, gap-free order, at most limit of them (limit <= 0: the
// implementation's default page). It may return fewer than limit even when
// more exist (page size caps); an empty result means fromSeq is past the
// head. Implementations must be safe for concurrent use.
type Source interface {
	Entries(ctx context.Context, fromSeq uint64, limit int) ([]Entry, error)
	Head(ctx context.Context) (ChainHead, error)
}

// DefaultPage is the page size Sources use when asked for limit <= 0.
const DefaultPage = 100

// MaxPage is the largest page a Source needs to return; larger limits are cut.
const MaxPage = 10000

// ErrSourceDown is returned by an InMemorySource switched off with SetDown.
var ErrSourceDown = errors.New("audit: source unavailable")

// InMemorySource is a Source over a slice, with a Chain to append through.
// Safe for concurrent use.
type InMemorySource struct {
	mu      sync.RWMutex
	entries []Entry
	chain   *Chain
	down    error
	changed chan struct{}
}

var _ Source = (*InMemorySource)(nil)

// NewInMemorySource returns an empty chain.
func NewInMemorySource() *InMemorySource {
	return &InMemorySource{chain: NewChain(ChainHead{}), changed: make(chan struct{})}
}

var _ Notifier = (*InMemorySource)(nil)

// Changed implements Notifier.
func (s *InMemorySource) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

func (s *InMemorySource) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Append chains the entries (filling Seq, PrevHash, Hash) and stores them;
// it returns the completed entries.
func (s *InMemorySource) Append(entries ...Entry) []Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Entry, len(entries))
	for i, e := range entries {
		out[i] = s.chain.Append(e)
		s.entries = append(s.entries, out[i])
	}
	s.notifyLocked()
	return out
}

// Replace stores entries as they are, unchecked (for tamper tests). Head
// then reports the last entry's seq and hash.
func (s *InMemorySource) Replace(entries []Entry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = make([]Entry, len(entries))
	for i, e := range entries {
		s.entries[i] = e.Clone()
	}
	var head ChainHead
	if n := len(entries); n > 0 {
		head = ChainHead{Seq: entries[n-1].Seq, Hash: entries[n-1].Hash}
	}
	s.chain = NewChain(head)
	s.notifyLocked()
}

// SetDown makes every call fail with err (nil restores the source).
func (s *InMemorySource) SetDown(err error) {
	s.mu.Lock()
	s.down = err
	s.mu.Unlock()
}

// Entries implements Source. Entries are found by position when the stored
// chain is well formed, by search otherwise.
func (s *InMemorySource) Entries(ctx context.Context, fromSeq uint64, limit int) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.down != nil {
		return nil, s.down
	}
	if fromSeq == 0 {
		fromSeq = 1
	}
	if limit <= 0 {
		limit = DefaultPage
	}
	limit = min(limit, MaxPage)
	start := -1
	if i := fromSeq - 1; i < uint64(len(s.entries)) && s.entries[i].Seq == fromSeq {
		start = int(i)
	} else {
		for i := range s.entries {
			if s.entries[i].Seq >= fromSeq {
				start = i
				break
			}
		}
	}
	if start < 0 {
		return nil, nil
	}
	end := min(start+limit, len(s.entries))
	out := make([]Entry, 0, end-start)
	for _, e := range s.entries[start:end] {
		out = append(out, e.Clone())
	}
	return out, nil
}

// Head implements Source.
func (s *InMemorySource) Head(ctx context.Context) (ChainHead, error) {
	if err := ctx.Err(); err != nil {
		return ChainHead{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.down != nil {
		return ChainHead{}, s.down
	}
	return s.chain.Head(), nil
}

// ReadAll pages through src from fromSeq up to and including toSeq (0 = the
// head at the time of the call) and returns the entries.
func ReadAll(ctx context.Context, src Source, fromSeq, toSeq uint64) ([]Entry, error) {
	var out []Entry
	err := Scan(ctx, src, fromSeq, toSeq, 0, func(page []Entry) error {
		out = append(out, page...)
		return nil
	})
	return out, err
}

// Scan calls fn with successive pages of src from fromSeq (0: the
// source's lowest readable entry, seq 1 unless the chain was pruned below
// an audit anchor) up to and including toSeq (0 = the head at the time of
// the call). page <= 0 uses MaxPage. It stops at the first error, from src
// or fn.
func Scan(ctx context.Context, src Source, fromSeq, toSeq uint64, page int, fn func([]Entry) error) error {
	if toSeq == 0 {
		head, err := src.Head(ctx)
		if err != nil {
			return err
		}
		toSeq = head.Seq
	}
	if page <= 0 {
		page = MaxPage
	}
	for next := fromSeq; next <= toSeq; {
		n := min(uint64(page), toSeq-next+1)
		es, err := src.Entries(ctx, next, int(n))
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return nil
		}
		if uint64(len(es)) > n {
			es = es[:n]
		}
		if err := fn(es); err != nil {
			return err
		}
		last := es[len(es)-1].Seq
		if last < next { // a source that does not honour the contract
			return errors.New("audit: source returned entries before the requested seq")
		}
		next = last + 1
	}
	return nil
}

// Notifier is implemented by Sources that can say when entries were
// added: Changed returns a channel closed at the next append after the call.
// Readers that cannot use it poll Head.
type Notifier interface {
	Changed() <-chan struct{}
}
