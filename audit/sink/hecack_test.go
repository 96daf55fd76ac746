package sink

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/format"
	"github.com/dstt/dstt/audit/sink/hectest"
)

// ackCheckedCursors is a CursorStore that, on every Save, checks that the
// stand-in has acknowledged every entry up to the saved seq and that the
// cursor never moves back.
type ackCheckedCursors struct {
	CursorStore
	t    *testing.T
	hec  *hectest.Server
	mu   sync.Mutex
	last uint64
	bad  []string
}

func (c *ackCheckedCursors) Save(sink string, head audit.ChainHead) error {
	c.mu.Lock()
	if !c.hec.Acknowledged(head.Seq) {
		c.bad = append(c.bad, fmt.Sprintf("cursor saved at %d before HEC acknowledged everything up to it", head.Seq))
	}
	if head.Seq < c.last {
		c.bad = append(c.bad, fmt.Sprintf("cursor moved back from %d to %d", c.last, head.Seq))
	}
	c.last = head.Seq
	c.mu.Unlock()
	return c.CursorStore.Save(sink, head)
}

func (c *ackCheckedCursors) Channel(sink string) (string, error) {
	return c.CursorStore.(ChannelStore).Channel(sink)
}

func (c *ackCheckedCursors) check() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.bad) > 0 {
		c.t.Fatal(strings.Join(c.bad, "\n"))
	}
}

// loseFirstTry is a script that loses the first request carrying any of
// the given seqs (a dropped batch) and acknowledges everything else after
// one unanswered query. lost counts the requests it lost.
func loseFirstTry(seqs ...uint64) (hectest.Script, *int) {
	lose := map[uint64]bool{}
	for _, s := range seqs {
		lose[s] = true
	}
	lost := new(int)
	return func(r hectest.Request) hectest.Fate {
		for _, e := range r.Events {
			if lose[e.Seq] {
				for _, e := range r.Events {
					delete(lose, e.Seq)
				}
				*lost++
				return hectest.Fate{Lose: true}
			}
		}
		return hectest.Fate{After: 1}
	}, lost
}

// checkIndexed checks that HEC indexed every entry of src (none lost),
// each with the seq and hash the audit chain has, and nothing else.
func checkIndexed(t *testing.T, hec *hectest.Server, src audit.Source) {
	t.Helper()
	want, err := audit.ReadAll(context.Background(), src, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint64]bool{}
	for _, e := range hec.Indexed() {
		if e.Seq == 0 || e.Seq > uint64(len(want)) {
			t.Fatalf("HEC indexed an event with seq %d, not in the chain", e.Seq)
		}
		if w := hex.EncodeToString(want[e.Seq-1].Hash); e.Hash != w {
			t.Fatalf("seq %d: HEC has hash %s, the chain %s", e.Seq, e.Hash, w)
		}
		got[e.Seq] = true
	}
	for _, e := range want {
		if !got[e.Seq] {
			t.Fatalf("seq %d lost: HEC never indexed it", e.Seq)
		}
	}
}

func newHECSink(t *testing.T, hec *hectest.Server, o HTTPOptions) *HTTPSink {
	t.Helper()
	f, _ := format.New(format.HEC, testFormatOpts)
	o.URL, o.Mode, o.Token = hec.EventURL(), ModeHEC, "s3cret"
	sk, err := NewHTTPSink("splunk", f, testFormatOpts, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sk.Close() })
	return sk
}

// TestHECAckResendsUnacknowledged: batches HEC never acknowledges are sent
// again after the ack timeout; nothing is lost, and the cursor is saved
// only over acknowledged entries (the batches after a lost one wait for
// it) and never moves back. Several batches are in flight at once.
func TestHECAckResendsUnacknowledged(t *testing.T) {
	script, lost := loseFirstTry(8, 30, 31, 50)
	hec := hectest.Start("s3cret", script)
	defer hec.Close()
	sk := newHECSink(t, hec, HTTPOptions{AckTimeout: 200 * time.Millisecond, AckPollInterval: 20 * time.Millisecond})
	src := newSource(60)
	cursors := &ackCheckedCursors{CursorStore: NewMemoryCursors(), t: t, hec: hec}
	sh := NewShipper(src, sk, cursors, fastOpts)
	stop := run(t, sh)
	waitCursor(t, sh, 60, 30*time.Second)
	stop()
	cursors.check()
	checkIndexed(t, hec, src)
	// Closed, the stand-in has no request in flight: *lost is settled.
	// Lost: 8-14, 29-35 (30 and 31), 50-56.
	hec.Close()
	if *lost != 3 {
		t.Fatalf("the stand-in lost %d requests, want 3", *lost)
	}
	if posts, _ := hec.Posts(); posts != 9+3 {
		t.Fatalf("%d posts, want 9 batches + 3 resent", posts)
	}
	if st := sh.Status(); st.Failures != 3 || st.LastError != "" || len(hec.Channels()) != 1 {
		t.Fatalf("status %+v, channels %v", st, hec.Channels())
	}
	if hec.MaxAckQuery() < 2 {
		t.Fatalf("at most %d ackId per query: batches were not in flight together", hec.MaxAckQuery())
	}
}

// TestHECAckRestartResumes: a node stopped while HEC holds a batch
// unacknowledged restarts on the same channel (kept beside the cursor),
// sends that batch again and goes on; nothing is lost.
func TestHECAckRestartResumes(t *testing.T) {
	script, _ := loseFirstTry(22)
	hec := hectest.Start("s3cret", script)
	defer hec.Close()
	dir := t.TempDir()
	fc, err := NewFileCursors(dir)
	if err != nil {
		t.Fatal(err)
	}
	cursors := &ackCheckedCursors{CursorStore: fc, t: t, hec: hec}
	cfg := SinkConfig{Name: "splunk", Type: TypeHTTP, URL: hec.EventURL(), Token: "s3cret", BatchSize: 7,
		PollInterval: Duration(5 * time.Millisecond), MinBackoff: Duration(time.Millisecond), MaxBackoff: Duration(5 * time.Millisecond),
		HECAckTimeout: Duration(time.Hour), HECAckPoll: Duration(20 * time.Millisecond)}
	src := newSource(40)
	start := func() *Service {
		svc, err := Start(context.Background(), []SinkConfig{cfg}, ServiceOptions{
			Sources: map[string]audit.Source{"consensus": src}, Cursors: cursors})
		if err != nil {
			t.Fatal(err)
		}
		return svc
	}
	svc := start()
	// The batch 22-28 was posted and is waiting for an ack that never comes.
	waitCursor(t, svc.shippers[0], 21, 10*time.Second)
	deadline := time.After(10 * time.Second)
	for posts, _ := hec.Posts(); posts < 4; posts, _ = hec.Posts() {
		select {
		case <-hec.Changed():
		case <-deadline:
			t.Fatalf("%d posts", posts)
		}
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	if c, _ := fc.Load("splunk"); c.Seq != 21 {
		t.Fatalf("stopped with cursor %d, want 21 (22-28 unacknowledged)", c.Seq)
	}
	channel, err := os.ReadFile(filepath.Join(dir, "splunk.channel"))
	if err != nil {
		t.Fatal(err)
	}
	svc = start()
	waitCursor(t, svc.shippers[0], 40, 10*time.Second)
	svc.Close()
	cursors.check()
	checkIndexed(t, hec, src)
	if ch := hec.Channels(); len(ch) != 1 || ch[0] != strings.TrimSpace(string(channel)) {
		t.Fatalf("channels %v, want the one kept in splunk.channel (%s)", ch, channel)
	}
}

// TestHECAckDisabled: a token without indexer acknowledgement is a clear
// failure, unless the sink is told to accept "received".
func TestHECAckDisabled(t *testing.T) {
	hec := hectest.Start("s3cret", nil)
	defer hec.Close()
	hec.SetAckDisabled(true)
	es := audit.NewChain(audit.ChainHead{})
	entries := testEntries(0, 3)
	for i := range entries {
		entries[i] = es.Append(entries[i])
	}
	err := newHECSink(t, hec, HTTPOptions{}).Send(context.Background(), entries)
	if !errors.Is(err, ErrHECAckDisabled) || !strings.Contains(err.Error(), "Enable indexer acknowledgement") || !strings.Contains(err.Error(), `hec_ack = "received"`) {
		t.Fatalf("ack disabled: %v", err)
	}
	if err := newHECSink(t, hec, HTTPOptions{Ack: HECAckReceived}).Send(context.Background(), entries); err != nil {
		t.Fatalf("received semantics: %v", err)
	}
	if n := len(hec.Indexed()); n != 6 {
		t.Fatalf("indexed %d", n)
	}
}

func TestHECErrorAnswers(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		want   string
	}{
		{400, `{"text":"Invalid data format","code":6,"invalid-event-number":2}`, "never dropped"},
		{503, `{"text":"Server is busy","code":9}`, "backing off"},
		{400, `{"text":"ACK is disabled","code":14}`, "Enable indexer acknowledgement"},
		{400, `{"text":"Invalid data channel","code":11}`, "hec_channel"},
		{502, `<html>bad gateway</html>`, "bad gateway"},
	} {
		_, err := parseHECAnswer(c.status, []byte(c.body))
		var he *HECError
		if !errors.As(err, &he) || he.Status != c.status || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%d %s: %v", c.status, c.body, err)
		}
		if errors.Is(err, ErrHECAckDisabled) != strings.Contains(c.body, `"code":14`) {
			t.Errorf("%s: errors.Is(ErrHECAckDisabled) wrong", c.body)
		}
	}
}

// BenchmarkShipHECAcknowledged measures shipping through the HEC stand-in
// with indexer acknowledgement: each iteration ships 20,000 entries in
// batches of 1,000 and stops when the cursor has the last one. The
// stand-in acknowledges at the second query of an ackId, so each batch
// waits at least one poll round (50 ms, then 100 ms); window is how many
// batches are in flight. Reported as entries/s.
//
//	GOFLAGS=-tags=pebbledb go test ./audit/sink -run '^$' -bench ShipHECAcknowledged -benchtime 3x
func BenchmarkShipHECAcknowledged(b *testing.B) {
	const perIter = 20000
	src := newSource(perIter)
	for _, window := range []int{1, 8} {
		b.Run(fmt.Sprintf("window-%d", window), func(b *testing.B) {
			hec := hectest.Start("s3cret", func(hectest.Request) hectest.Fate { return hectest.Fate{After: 1} })
			defer hec.Close()
			f, _ := format.New(format.HEC, testFormatOpts)
			for b.Loop() {
				sk, err := NewHTTPSink("splunk", f, testFormatOpts, HTTPOptions{URL: hec.EventURL(), Mode: ModeHEC, Token: "s3cret", AckWindow: window})
				if err != nil {
					b.Fatal(err)
				}
				sh := NewShipper(src, sk, NewMemoryCursors(), ShipperOptions{BatchSize: 1000})
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { sh.Run(ctx); close(done) }()
				waitCursor(b, sh, perIter, time.Minute)
				cancel()
				<-done
				sk.Close()
			}
			b.ReportMetric(float64(perIter*b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// TestHECAckIDReusedAfterRestart: a HEC that restarts numbers its ackIds
// from 0 again, so a batch posted after the restart gets the ackId of one
// lost before it. The acknowledgement of the new batch must not confirm
// the lost one: the cursor stays before it until it is sent again and
// acknowledged, and nothing is lost.
func TestHECAckIDReusedAfterRestart(t *testing.T) {
	script, _ := loseFirstTry(1)
	hec := hectest.Start("s3cret", script)
	defer hec.Close()
	sk := newHECSink(t, hec, HTTPOptions{AckTimeout: 500 * time.Millisecond, AckPollInterval: 20 * time.Millisecond})
	src := newSource(7) // one batch: lost, ackId 0
	cursors := &ackCheckedCursors{CursorStore: NewMemoryCursors(), t: t, hec: hec}
	sh := NewShipper(src, sk, cursors, fastOpts)
	changed := hec.Changed()
	stop := run(t, sh)
	defer stop()
	deadline := time.After(10 * time.Second)
	for posts, _ := hec.Posts(); posts == 0; posts, _ = hec.Posts() {
		select {
		case <-changed:
			changed = hec.Changed()
		case <-deadline:
			t.Fatal("the first batch was never posted")
		}
	}
	hec.Restart()
	src.Append(testEntries(7, 7)...) // the next batch gets ackId 0 again
	waitCursor(t, sh, 14, 30*time.Second)
	stop()
	cursors.check()
	checkIndexed(t, hec, src)
}

// TestHECAnswerSizeBounded: HEC's answers are small (a code, a text, an
// ackId, the acks asked about); a receiver that answers more than
// hecMaxAnswer bytes (endless ackIds, a huge text) is refused with an
// error that says so, before anything is decoded, not read and parsed
// whole.
func TestHECAnswerSizeBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"text":"Success","code":0,"ackId":0,"acks":{"0":true`)
	for i := 1; b.Len() < 2<<20; i++ {
		fmt.Fprintf(&b, `,"%d":true`, i)
	}
	b.WriteString("}}")
	huge := b.String()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, huge)
	}))
	defer srv.Close()
	f, _ := format.New(format.HEC, testFormatOpts)
	sk, err := NewHTTPSink("splunk", f, testFormatOpts, HTTPOptions{URL: srv.URL + "/services/collector/event", Mode: ModeHEC, Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	defer sk.Close()
	ctx := context.Background()
	if _, err := sk.Acknowledged(ctx, []uint64{0}); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("ack query answered with %d bytes: %v", len(huge), err)
	}
	if _, err := sk.Post(ctx, testEntries(0, 1)); err == nil || !strings.Contains(err.Error(), "more than") {
		t.Errorf("post answered with %d bytes: %v", len(huge), err)
	}
}
