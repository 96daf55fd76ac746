package rest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

// memBackend is an in-memory Backend: blocks are appended by the test and
// streamed to subscribers; the chain is open (no access control).
type memBackend struct {
	mu     sync.Mutex
	blocks []Block
	subs   []chan Block
	base   int64 // the lowest block LoadBlock serves (0: all)
	loads  int   // LoadBlock calls
}

var _ Backend = (*memBackend)(nil)

func (m *memBackend) ChainID() string { return "mem" }
func (m *memBackend) CheckTx([]byte, func(*abcitypes.ResponseCheckTx)) error {
	return errors.New("memBackend: no mempool")
}
func (m *memBackend) MempoolSize() (int, int64) { return 0, 0 }
func (m *memBackend) Query(_ context.Context, path string, _ []byte, _ int64) (*abcitypes.ResponseQuery, error) {
	if path == types.QueryParams {
		return &abcitypes.ResponseQuery{Value: []byte(`{"chain_id":"mem","open":true}`)}, nil
	}
	return &abcitypes.ResponseQuery{Code: uint32(types.CodeNotFound), Log: "memBackend"}, nil
}
func (m *memBackend) CommittedHeight(context.Context) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return int64(len(m.blocks)), nil
}
func (m *memBackend) SubscribeBlocks(ctx context.Context) (<-chan Block, error) {
	ch := make(chan Block, 1024)
	m.mu.Lock()
	m.subs = append(m.subs, ch)
	m.mu.Unlock()
	return ch, nil
}
func (m *memBackend) LoadBlock(_ context.Context, h int64) (Block, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	if h < max(1, m.base) || h > int64(len(m.blocks)) {
		return Block{}, fmt.Errorf("no block %d", h)
	}
	return m.blocks[h-1], nil
}
func (m *memBackend) Status(context.Context) (NodeStatus, error) {
	h, _ := m.CommittedHeight(context.Background())
	m.mu.Lock()
	defer m.mu.Unlock()
	return NodeStatus{LatestHeight: h, EarliestHeight: m.base}, nil
}

// commit appends a block of one tx putting key=value and streams it.
func (m *memBackend) commit(t testing.TB, s security.Signer, key, value string) {
	t.Helper()
	m.mu.Lock()
	h := int64(len(m.blocks) + 1)
	m.mu.Unlock()
	body := &types.TxBody{ChainId: "mem", Nonce: uint64(h), ValidUntilHeight: uint64(h), Ops: []types.Op{{Sum: &types.Op_Put{Put: &types.Put{Key: key, Value: []byte(value)}}}}}
	tx, err := security.SignTx(body, s)
	if err != nil {
		t.Fatal(err)
	}
	rec := types.TxResult{Height: uint64(h), Writes: []types.Write{{Key: key, Version: types.Version{Height: uint64(h)}}}}
	data, _ := rec.Marshal()
	b := Block{Height: h, Time: time.Unix(h, 0), Txs: [][]byte{tx}, Results: []*abcitypes.ExecTxResult{{Data: data}}}
	m.mu.Lock()
	m.blocks = append(m.blocks, b)
	subs := append([]chan Block(nil), m.subs...)
	m.mu.Unlock()
	for _, ch := range subs {
		ch <- b
	}
}

// bypass runs commits that the block subscribers do not get (blocks the
// hub misses, as while it resubscribes).
func (m *memBackend) bypass(commits func()) {
	m.mu.Lock()
	subs := m.subs
	m.subs = nil
	m.mu.Unlock()
	commits()
	m.mu.Lock()
	m.subs = subs
	m.mu.Unlock()
}

// followedGateway is a gateway over a fresh memBackend whose block follower
// runs until the test ends, and a signer for the test's txs.
func followedGateway(t *testing.T) (*memBackend, *Gateway, security.Signer) {
	t.Helper()
	mem := &memBackend{}
	signer, _ := security.GenerateKey()
	g, err := New(mem, DefaultConfig(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := g.StartFollower(ctx); err != nil {
		t.Fatal(err)
	}
	return mem, g, signer
}

// gatedWriter is a ResponseWriter whose writes wait for a gate, so a test
// can hold an event stream still while blocks pile up.
type gatedWriter struct {
	header http.Header
	gate   chan struct{}
	mu     sync.Mutex
	buf    strings.Builder
	wrote  chan struct{}
	once   sync.Once
}

func (w *gatedWriter) Header() http.Header { return w.header }
func (w *gatedWriter) WriteHeader(int)     {}
func (w *gatedWriter) Flush()              {}
func (w *gatedWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { close(w.wrote) })
	<-w.gate
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(b)
}

// A stream that falls behind is ended with EVENTS_LAGGED naming where to
// resume, and resuming there gives every later write, none twice.
func TestLaggingStreamResumesWithoutGap(t *testing.T) {
	mem := &memBackend{}
	signer, _ := security.GenerateKey()
	cfg := DefaultConfig()
	cfg.EventBuffer = 2
	g, err := New(mem, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	dropped := make(chan struct{}, 1)
	g.hub.onDrop = func() { dropped <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := g.StartFollower(ctx); err != nil {
		t.Fatal(err)
	}
	mem.commit(t, signer, "k/0", "v0")

	w := &gatedWriter{header: http.Header{}, gate: make(chan struct{}), wrote: make(chan struct{})}
	req := httptest.NewRequest(http.MethodGet, "/v1/events?prefix=k/&from_height=1", nil)
	done := make(chan struct{})
	go func() { defer close(done); g.Handler().ServeHTTP(w, req) }()
	<-w.wrote // subscribed, stuck writing its first line
	for i := 1; i <= 10; i++ {
		mem.commit(t, signer, fmt.Sprintf("k/%d", i), fmt.Sprintf("v%d", i))
	}
	// The hub drops the stream once it is EventBuffer blocks behind; wait
	// for that before letting the writer go.
	select {
	case <-dropped:
	case <-time.After(10 * time.Second):
		t.Fatal("the stalled stream was never dropped")
	}
	close(w.gate)
	<-done
	out := w.buf.String()
	if !strings.Contains(out, "event: error") || !strings.Contains(out, api.ProblemEventsLagged) {
		t.Fatalf("no EVENTS_LAGGED error event:\n%s", out)
	}
	var lagged api.Problem
	for line := range strings.SplitSeq(out, "\n") {
		if s, ok := strings.CutPrefix(line, "data: "); ok && strings.Contains(s, api.ProblemEventsLagged) {
			if err := json.Unmarshal([]byte(s), &lagged); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := eventKeys(out)
	if lagged.LastEventID == "" {
		t.Fatalf("lagged problem has no last_event_id: %+v", lagged)
	}

	// Resume after the last id on an ordinary server.
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
	defer rcancel()
	rreq, _ := http.NewRequestWithContext(rctx, http.MethodGet, srv.URL+"/v1/events?prefix=k/", nil)
	rreq.Header.Set("Last-Event-ID", lagged.LastEventID)
	resp, err := srv.Client().Do(rreq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	for len(got) < 11 {
		line, err := br.ReadString('\n')
		if err == io.EOF || err != nil {
			t.Fatalf("stream ended with %d keys: %v (%v)", len(got), got, err)
		}
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "data: "); ok {
			var ev api.WriteEvent
			if json.Unmarshal([]byte(s), &ev) == nil {
				got = append(got, ev.Key)
			}
		}
	}
	for i, k := range got {
		if k != fmt.Sprintf("k/%d", i) {
			t.Fatalf("keys after resuming: %v", got)
		}
	}
}

func eventKeys(sse string) []string {
	var keys []string
	for line := range strings.SplitSeq(sse, "\n") {
		if s, ok := strings.CutPrefix(line, "data: "); ok {
			var ev api.WriteEvent
			if json.Unmarshal([]byte(s), &ev) == nil && ev.Key != "" {
				keys = append(keys, ev.Key)
			}
		}
	}
	return keys
}

// A gap in the block subscription (a block the hub never got) is read
// from the store, so waiters and streams see every block.
func TestHubFillsGaps(t *testing.T) {
	mem, g, signer := followedGateway(t)
	s, _ := g.hub.subscribe(16)
	// Block 1 bypasses the subscription; block 2 arrives.
	mem.bypass(func() { mem.commit(t, signer, "a", "1") })
	mem.commit(t, signer, "b", "2")
	var heights []int64
	for range 2 {
		select {
		case bw := <-s.ch:
			heights = append(heights, bw.height)
		case <-time.After(10 * time.Second):
			t.Fatalf("blocks seen: %v", heights)
		}
	}
	if heights[0] != 1 || heights[1] != 2 {
		t.Fatalf("heights %v, want [1 2]", heights)
	}
}

// A node whose block store starts above the hub's last height (it joined
// by state sync, was restored from a backup, or pruned its blocks) skips
// the heights it never stored with one read of its status, not one failed
// read per height; the streams end so their clients resume from the store,
// and the blocks it does hold are still dispatched.
func TestHubSkipsBlocksBelowTheStoreBase(t *testing.T) {
	mem, g, signer := followedGateway(t)
	old, _ := g.hub.subscribe(16)
	mem.bypass(func() {
		for i := range 1000 { // committed before the node's store began
			mem.commit(t, signer, fmt.Sprint("k", i), "v")
		}
		mem.mu.Lock()
		mem.base = 996
		mem.mu.Unlock()
	})
	mem.commit(t, signer, "next", "v") // height 1001 arrives
	select {
	case _, open := <-old.ch:
		for open { // blocks may come before the end
			_, open = <-old.ch
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream that could not get blocks 1..995 was not ended")
	}
	// A stream opened now gets, in order and without a gap, whatever of
	// 996..1001 the hub has not dispatched yet, then 1002.
	fresh, _ := g.hub.subscribe(16)
	mem.commit(t, signer, "after", "v")
	for next := int64(0); next != 1003; { // next: the height due (0: any from 996)
		select {
		case bw := <-fresh.ch:
			if bw.height < 996 || bw.height > 1002 || (next != 0 && bw.height != next) {
				t.Fatalf("a new stream got height %d after %d", bw.height, next-1)
			}
			next = bw.height + 1
		case <-time.After(10 * time.Second):
			t.Fatal("a new stream got no block 1002")
		}
	}
	mem.mu.Lock()
	loads := mem.loads
	mem.mu.Unlock()
	if loads != 5 { // 996..1000, the blocks the store holds
		t.Fatalf("LoadBlock called %d times, want 5 (heights 996..1000)", loads)
	}
}
