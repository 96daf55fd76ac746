package sink

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/format"
	"github.com/dstt/dstt/audit/internal/rsyslogtest"
)

// BenchmarkExportRsyslog measures end-to-end export throughput to a real
// rsyslogd: each iteration ships 20,000 entries (read from an in-memory
// Source, verified, formatted, framed, sent, cursor saved to disk after
// each batch) and stops the clock when rsyslogd has written the last of
// them to its file. Reported as entries/s.
//
//	GOFLAGS=-tags=pebbledb go test ./audit/sink -run '^$' -bench ExportRsyslog -benchtime 3x
func BenchmarkExportRsyslog(b *testing.B) {
	r := rsyslogtest.Start(b)
	const perIter = 20000
	for _, c := range []struct {
		name, fmt, file, addr string
		tls                   int
	}{
		{"tcp-cef", format.CEF, r.TCPFile, r.TCPAddr, 0},
		{"tcp-rfc5424", format.RFC5424, r.TCPFile, r.TCPAddr, 0},
		{"tls-rfc5424", format.RFC5424, r.TLSFile, r.TLSAddr, 1},
		{"mtls-cef", format.CEF, r.MTLSFile, r.MTLSAddr, 2},
	} {
		b.Run(c.name, func(b *testing.B) {
			counter := rsyslogtest.NewLineCounter(c.file)
			cursors, err := NewFileCursors(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				src := audit.NewInMemorySource()
				src.Append(testEntries(0, perIter)...)
				sk := newSyslog(b, c.name, c.addr, c.fmt, r, c.tls)
				cursors.Save(c.name, audit.ChainHead{})
				sh := NewShipper(src, sk, cursors, ShipperOptions{})
				target := counter.Count() + perIter
				ctx, cancel := context.WithCancel(context.Background())
				var wg sync.WaitGroup
				b.StartTimer()
				start := time.Now()
				wg.Go(func() { sh.Run(ctx) })
				pollUntil(b, 2*time.Minute, 2*time.Millisecond, fmt.Sprintf("receiver at %d lines", target), func() bool {
					return counter.Count() >= target
				})
				elapsed += time.Since(start)
				b.StopTimer()
				cancel()
				wg.Wait()
				sk.Close()
			}
			b.ReportMetric(float64(perIter*b.N)/elapsed.Seconds(), "entries/s")
		})
	}
}
