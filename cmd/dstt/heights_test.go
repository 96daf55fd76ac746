package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"
)

// heightWatch follows a node's block height through a NewBlockHeader
// subscription on its RPC websocket, so a test waits on blocks as they
// are committed instead of polling the height.
type heightWatch struct {
	t    *testing.T
	hc   *rpchttp.HTTP
	logs func() string // what to show when a wait fails

	stopOnce sync.Once
	done     chan struct{} // closed by stop

	mu      sync.Mutex
	height  int64
	changed chan struct{} // closed and replaced whenever height grows
}

// watchHeights connects to the node's RPC at rpc once it answers (within
// connectFor) and follows its height until the test ends.
func watchHeights(t *testing.T, rpc string, connectFor time.Duration, logs func() string) *heightWatch {
	t.Helper()
	w := &heightWatch{t: t, logs: logs, changed: make(chan struct{}), done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), connectFor)
	defer cancel()
	events, err := w.subscribe(ctx, rpc)
	if err != nil {
		t.Fatalf("no height subscription on %s within %s: %v\n%s", rpc, connectFor, err, logs())
	}
	t.Cleanup(w.stop)
	go func() {
		for {
			select {
			case ev := <-events:
				if h, ok := ev.Data.(cmttypes.EventDataNewBlockHeader); ok {
					w.advance(h.Header.Height)
				}
			case <-w.done:
				return
			}
		}
	}()
	// Blocks committed before the subscription took effect.
	if st, err := w.hc.Status(ctx); err == nil {
		w.advance(st.SyncInfo.LatestBlockHeight)
	}
	return w
}

// subscribe dials the websocket until the node's RPC is up or ctx ends
// (a node announces no readiness event before its RPC listens).
func (w *heightWatch) subscribe(ctx context.Context, rpc string) (<-chan ctypes.ResultEvent, error) {
	retry := time.NewTicker(50 * time.Millisecond)
	defer retry.Stop()
	for {
		hc, err := rpchttp.New(rpc, "/websocket")
		if err != nil {
			return nil, err
		}
		if err = hc.Start(); err == nil {
			var events <-chan ctypes.ResultEvent
			if events, err = hc.Subscribe(ctx, "heights", cmttypes.EventQueryNewBlockHeader.String(), 128); err == nil {
				w.hc = hc
				return events, nil
			}
			_ = hc.Stop()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-retry.C:
		}
	}
}

// stop ends the subscription (before the node stops, so the client does
// not keep redialling it); the test's cleanup calls it too.
func (w *heightWatch) stop() {
	w.stopOnce.Do(func() {
		close(w.done)
		_ = w.hc.Stop()
	})
}

func (w *heightWatch) advance(h int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if h > w.height {
		w.height = h
		close(w.changed)
		w.changed = make(chan struct{})
	}
}

// current is the last height the node announced.
func (w *heightWatch) current() int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.height
}

func (w *heightWatch) snapshot() (int64, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.height, w.changed
}

// status is the node's height as its RPC reports it now (0 if it does
// not answer): the authority when a test measures a stall.
func (w *heightWatch) status() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := w.hc.Status(ctx)
	if err != nil {
		return 0
	}
	return st.SyncInfo.LatestBlockHeight
}

// waitHeight waits until the node has committed height h, failing the
// test if that takes longer than d.
func (w *heightWatch) waitHeight(h int64, d time.Duration) {
	w.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		cur, changed := w.snapshot()
		if cur >= h {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			w.t.Fatalf("height %d not reached in %s (at %d)\n%s", h, d, w.current(), w.logs())
		}
	}
}

// observeNoProgress watches the chain for the whole window d and fails
// the test as soon as it moves more than one block past the height it
// had at the start (one block may already be signed and in flight).
// It is a bounded observation window, not a wait: the test shows that
// something does not happen for a while.
func (w *heightWatch) observeNoProgress(d time.Duration) (from int64) {
	w.t.Helper()
	from = w.status()
	window := time.NewTimer(d)
	defer window.Stop()
	for {
		cur, changed := w.snapshot()
		if cur > from+1 {
			w.t.Fatalf("the chain moved from %d to %d within %s, while it should stall\n%s", from, cur, d, w.logs())
		}
		select {
		case <-changed:
		case <-window.C:
			if h := w.status(); h > from+1 {
				w.t.Fatalf("the chain moved from %d to %d within %s, while it should stall\n%s", from, h, d, w.logs())
			}
			return from
		}
	}
}

// waitLog waits until the process has written want, failing the test
// after d.
func (p *proc) waitLog(want string, d time.Duration) {
	p.t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		text, changed := p.logs.snapshot()
		if strings.Contains(text, want) {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			p.t.Fatalf("%q not logged within %s:\n%s", want, d, text)
		}
	}
}
