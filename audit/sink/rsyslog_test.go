package sink

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/format"
	"github.com/dstt/dstt/audit/internal/rsyslogtest"
)

var testFormatOpts = format.Options{Hostname: "node0", ChainID: "dstt-test"}

func newSyslog(t testing.TB, name, addr, fmtName string, r *rsyslogtest.Receiver, tlsMode int) *SyslogSink {
	t.Helper()
	f, err := format.New(fmtName, testFormatOpts)
	if err != nil {
		t.Fatal(err)
	}
	opts := SyslogOptions{Address: addr}
	if tlsMode > 0 {
		opts.TLS = r.ClientTLS(tlsMode == 2)
	}
	s, err := NewSyslogSink(name, f, testFormatOpts, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRsyslogDelivery ships CEF over plain TCP, RFC 5424 over TLS and CEF
// over mutual TLS to a real rsyslogd, all at once, and checks what it
// wrote: every entry, once, in order, with its fields intact (the RFC 5424
// records rebuild entries that still verify as a chain).
func TestRsyslogDelivery(t *testing.T) {
	r := rsyslogtest.Start(t)
	const n = 2500
	src := newSource(n)
	want, _ := audit.ReadAll(context.Background(), src, 1, 0)
	reg := prometheus.NewRegistry()
	metrics, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	cursors := NewMemoryCursors()
	sinks := []struct {
		sink Sink
		file string
		fmt  string
	}{
		{newSyslog(t, "tcp-cef", r.TCPAddr, format.CEF, r, 0), r.TCPFile, format.CEF},
		{newSyslog(t, "tls-rfc5424", r.TLSAddr, format.RFC5424, r, 1), r.TLSFile, format.RFC5424},
		{newSyslog(t, "mtls-cef", r.MTLSAddr, format.CEF, r, 2), r.MTLSFile, format.CEF},
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var shippers []*Shipper
	for _, s := range sinks {
		sh := NewShipper(src, s.sink, cursors, ShipperOptions{BatchSize: 300, Metrics: metrics})
		shippers = append(shippers, sh)
		wg.Go(func() { sh.Run(ctx) })
	}
	for _, sh := range shippers {
		waitCursor(t, sh, n, 30*time.Second)
	}
	cancel()
	wg.Wait()
	for _, s := range sinks {
		lines := rsyslogtest.WaitLines(t, s.file, n, 30*time.Second)
		if len(lines) != n {
			t.Fatalf("%s: %d lines, want %d", s.sink.Name(), len(lines), n)
		}
		var rebuilt []audit.Entry
		for k, line := range lines {
			switch s.fmt {
			case format.CEF:
				if !strings.HasPrefix(line, "<") { // the RFC 5424 header the syslog sink adds
					t.Fatalf("no syslog header: %q", line)
				}
				checkCEF(t, line, want[k])
			case format.RFC5424:
				e := parseRFC5424Entry(t, line)
				if e.Seq != want[k].Seq {
					t.Fatalf("line %d has seq %d, want %d", k, e.Seq, want[k].Seq)
				}
				rebuilt = append(rebuilt, e)
			}
		}
		if rebuilt != nil {
			if err := audit.VerifyAnchored(rebuilt, audit.ChainHead{}, audit.ChainHead{Seq: n, Hash: want[n-1].Hash}); err != nil {
				t.Fatalf("entries rebuilt from rsyslog's file do not verify: %v", err)
			}
		}
		if got := metricValue(metrics.Cursor.WithLabelValues(s.sink.Name(), "consensus")); got != n {
			t.Errorf("%s: cursor gauge %v", s.sink.Name(), got)
		}
		if got := metricValue(metrics.Shipped.WithLabelValues(s.sink.Name(), "consensus")); got != n {
			t.Errorf("%s: shipped %v", s.sink.Name(), got)
		}
		if c, _ := cursors.Load(s.sink.Name()); c.Seq != n {
			t.Errorf("%s: cursor %d", s.sink.Name(), c.Seq)
		}
		s.sink.Close()
	}
}

// seqOf extracts the seq of a CEF (externalId) or RFC 5424 (seq="N") line.
func seqOf(t testing.TB, line string) uint64 {
	t.Helper()
	for _, key := range []string{"externalId=", `seq="`} {
		if i := strings.Index(line, key); i >= 0 {
			rest := line[i+len(key):]
			end := strings.IndexAny(rest, ` "`)
			if end < 0 {
				end = len(rest)
			}
			v, err := strconv.ParseUint(rest[:end], 10, 64)
			if err != nil {
				t.Fatalf("seq in %q: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("no seq in %q", line)
	return 0
}

// TestRsyslogRestartUnderLoad: entries keep coming while the receiver is
// stopped and restarted; every entry arrives (duplicates allowed, each an
// exact copy identifiable by seq), and a healthy sink next to it is not
// held up.
func TestRsyslogRestartUnderLoad(t *testing.T) {
	r := rsyslogtest.Start(t)
	src := audit.NewInMemorySource()
	const total, step = 12000, 200
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	healthy := NewMemorySink("healthy")
	cursors := NewMemoryCursors()
	fast := ShipperOptions{BatchSize: 500, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond}
	tcp := NewShipper(src, newSyslog(t, "tcp", r.TCPAddr, format.CEF, r, 0), cursors, fast)
	tls := NewShipper(src, newSyslog(t, "tls", r.TLSAddr, format.RFC5424, r, 1), cursors, fast)
	mem := NewShipper(src, healthy, cursors, fast)
	var wg sync.WaitGroup
	for _, sh := range []*Shipper{tcp, tls, mem} {
		wg.Go(func() { sh.Run(ctx) })
	}
	// The producer: appends in steps, as blocks commit.
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; i < total; i += step {
			src.Append(testEntries(i, step)...)
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	waitCursor(t, tcp, total/4, 30*time.Second)
	r.Stop()
	// Wait until both syslog shippers have seen the receiver gone while
	// the producer goes on and the healthy sink keeps up.
	for _, sh := range []*Shipper{tcp, tls} {
		waitStatus(t, sh, 30*time.Second, "a failure", func(st Status) bool { return st.Failures > 0 })
	}
	head, _ := src.Head(ctx)
	waitCursor(t, mem, head.Seq, 30*time.Second) // a down sink blocks nothing else
	r.Restart()
	<-produced
	for _, sh := range []*Shipper{tcp, tls, mem} {
		waitCursor(t, sh, total, 60*time.Second)
	}
	cancel()
	wg.Wait()
	want, _ := audit.ReadAll(context.Background(), src, 1, 0)
	for _, c := range []struct {
		name, file string
		sh         *Shipper
	}{{"tcp", r.TCPFile, tcp}, {"tls", r.TLSFile, tls}} {
		// rsyslog may still be writing the tail: wait for the last seq.
		var lines []string
		pollUntil(t, 30*time.Second, 20*time.Millisecond, c.name+": last line at seq "+strconv.Itoa(total), func() bool {
			lines = rsyslogtest.ReadLines(c.file)
			return len(lines) > 0 && seqOf(t, lines[len(lines)-1]) == total
		})
		seen := map[uint64]string{}
		dupes := 0
		for _, line := range lines {
			seq := seqOf(t, line)
			// Compare the record without the syslog header timestamp-free
			// parts: the whole line must be identical for a duplicate.
			if prev, ok := seen[seq]; ok {
				dupes++
				if prev != line {
					t.Fatalf("%s: seq %d arrived twice with different content", c.name, seq)
				}
				continue
			}
			seen[seq] = line
		}
		for seq := uint64(1); seq <= total; seq++ {
			if _, ok := seen[seq]; !ok {
				t.Fatalf("%s: seq %d never arrived (%d lines, %d distinct, %d duplicates)", c.name, seq, len(lines), len(seen), dupes)
			}
		}
		if c.name == "tcp" {
			checkCEF(t, seen[total], want[total-1])
		}
		t.Logf("%s: %d entries arrived, %d duplicates, %d failed attempts while the receiver was down", c.name, len(seen), dupes, c.sh.Status().Failures)
	}
	if got := len(healthy.Received()); got != total {
		t.Fatalf("healthy sink got %d", got)
	}
}
