package sink

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
)

var fastOpts = ShipperOptions{BatchSize: 7, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, PollInterval: 5 * time.Millisecond}

func run(t *testing.T, sh *Shipper) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { sh.Run(ctx) })
	return func() { cancel(); wg.Wait() }
}

func TestShipperDeliversInOrderAndResumes(t *testing.T) {
	src := newSource(50)
	cursors := NewMemoryCursors()
	s1 := NewMemorySink("a")
	sh := NewShipper(src, s1, cursors, fastOpts)
	stop := run(t, sh)
	waitCursor(t, sh, 50, 10*time.Second)
	// New entries wake it (Notifier), not only the poll.
	src.Append(testEntries(50, 10)...)
	waitCursor(t, sh, 60, 10*time.Second)
	stop()
	want, _ := audit.ReadAll(context.Background(), src, 1, 0)
	got := s1.Received()
	if len(got) != 60 {
		t.Fatalf("got %d entries", len(got))
	}
	for i := range got {
		if got[i].Seq != want[i].Seq || string(got[i].Hash) != string(want[i].Hash) {
			t.Fatalf("entry %d: seq %d", i, got[i].Seq)
		}
	}
	// A new shipper with the same cursor store resumes after seq 60.
	src.Append(testEntries(60, 5)...)
	s2 := NewMemorySink("a")
	sh2 := NewShipper(src, s2, cursors, fastOpts)
	stop = run(t, sh2)
	waitCursor(t, sh2, 65, 10*time.Second)
	stop()
	if got := s2.Received(); len(got) != 5 || got[0].Seq != 61 {
		t.Fatalf("resumed with %d entries from %d", len(got), got[0].Seq)
	}
}

// TestShipperDownSinkCatchesUp: one sink down, another keeps going; the
// down one retries with backoff and catches up, losing nothing.
func TestShipperDownSinkCatchesUp(t *testing.T) {
	src := newSource(30)
	cursors := NewMemoryCursors()
	up, down := NewMemorySink("up"), NewMemorySink("down")
	down.SetDown(ErrSinkDown)
	shUp := NewShipper(src, up, cursors, fastOpts)
	shDown := NewShipper(src, down, cursors, fastOpts)
	stop1, stop2 := run(t, shUp), run(t, shDown)
	defer stop1()
	defer stop2()
	waitCursor(t, shUp, 30, 10*time.Second)
	src.Append(testEntries(30, 30)...)
	waitCursor(t, shUp, 60, 10*time.Second)
	waitStatus(t, shDown, 10*time.Second, "5 failures", func(st Status) bool { return st.Failures >= 5 })
	st := shDown.Status()
	if st.Cursor.Seq != 0 || st.Failures == 0 || st.LastError == "" || st.Lag() != 60 {
		t.Fatalf("down sink status %+v (lag %d)", st, st.Lag())
	}
	down.SetDown(nil)
	waitCursor(t, shDown, 60, 10*time.Second)
	if got := down.Received(); len(got) != 60 || got[59].Seq != 60 {
		t.Fatalf("caught up with %d entries", len(got))
	}
	if st := shDown.Status(); st.LastError != "" || st.Lag() != 0 {
		t.Fatalf("after catching up: %+v", st)
	}
}

// TestShipperRefusesBrokenChain: a source whose chain does not verify is
// not shipped past the break.
func TestShipperRefusesBrokenChain(t *testing.T) {
	src := newSource(20)
	es, _ := audit.ReadAll(context.Background(), src, 1, 0)
	es[12].Message = "tampered"
	src.Replace(es)
	sk := NewMemorySink("s")
	sh := NewShipper(src, sk, NewMemoryCursors(), ShipperOptions{BatchSize: 5, MinBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond})
	stop := run(t, sh)
	waitCursor(t, sh, 10, 10*time.Second)
	waitStatus(t, sh, 10*time.Second, "3 failures", func(st Status) bool { return st.Failures >= 3 })
	stop()
	st := sh.Status()
	if st.Cursor.Seq != 10 || len(sk.Received()) != 10 {
		t.Fatalf("shipped past the break: %+v, %d received", st, len(sk.Received()))
	}
	if want := "first bad entry is seq 13"; !strings.Contains(st.LastError, want) {
		t.Fatalf("last error %q does not say %q", st.LastError, want)
	}
}

// rewindSink fails once after accepting a batch, and then asks for a
// resend from an earlier seq, like a syslog connection that broke.
type rewindSink struct {
	*MemorySink
	failAt uint64
	from   uint64
	failed bool
	asked  bool
}

func (r *rewindSink) Send(ctx context.Context, es []audit.Entry) error {
	if !r.failed && es[0].Seq >= r.failAt {
		r.failed, r.asked = true, true
		return errors.New("connection reset")
	}
	return r.MemorySink.Send(ctx, es)
}

func (r *rewindSink) ResendFrom() (uint64, bool) {
	if !r.asked {
		return 0, false
	}
	r.asked = false
	return r.from, true
}

func TestShipperRewind(t *testing.T) {
	src := newSource(40)
	cursors := NewMemoryCursors()
	rs := &rewindSink{MemorySink: NewMemorySink("r"), failAt: 22, from: 8}
	sh := NewShipper(src, rs, cursors, fastOpts)
	stop := run(t, sh)
	waitCursor(t, sh, 40, 10*time.Second)
	stop()
	got := rs.Received()
	seen := map[uint64]int{}
	for _, e := range got {
		seen[e.Seq]++
	}
	for seq := uint64(1); seq <= 40; seq++ {
		if seen[seq] == 0 {
			t.Fatalf("seq %d missing", seq)
		}
	}
	if seen[8] != 2 || seen[7] != 1 {
		t.Fatalf("resend did not start at seq 8: %v", seen)
	}
}
