package sink

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/dstt/dstt/audit"
)

// scrape GETs a /metrics page and returns the value of one series.
func scrape(t *testing.T, url, series string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(b)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("%d, no series %s in\n%s", resp.StatusCode, series, b)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func serveMetrics(t *testing.T) (*Metrics, string) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(srv.Close)
	return m, srv.URL + "/metrics"
}

// TestMetricsLagDuringOutage: while the receiver is down and the shipper
// sits in backoff, the lag a scrape reports follows the source's head.
func TestMetricsLagDuringOutage(t *testing.T) {
	m, url := serveMetrics(t)
	src := newSource(10)
	sk := NewMemorySink("down")
	sk.SetDown(ErrSinkDown)
	// One failure, then a backoff far longer than the test: nothing the
	// shipper does moves the lag.
	sh := NewShipper(src, sk, NewMemoryCursors(), ShipperOptions{MinBackoff: time.Hour, MaxBackoff: time.Hour, Metrics: m})
	stop := run(t, sh)
	defer stop()
	waitStatus(t, sh, 10*time.Second, "a failure", func(st Status) bool { return st.Failures > 0 })
	lag := `dstt_audit_sink_lag_entries{chain="consensus",sink="down"}`
	if got := scrape(t, url, lag); got != 10 {
		t.Fatalf("lag %v, want 10", got)
	}
	src.Append(testEntries(10, 5)...)
	if got := scrape(t, url, lag); got != 15 {
		t.Fatalf("lag %v after 5 more entries during the backoff, want 15", got)
	}
	if up := scrape(t, url, `dstt_audit_sink_up{chain="consensus",sink="down"}`); up != 0 {
		t.Fatalf("up %v during the outage", up)
	}
	if c := scrape(t, url, `dstt_audit_sink_cursor_seq{chain="consensus",sink="down"}`); c != 0 {
		t.Fatalf("cursor %v during the outage", c)
	}
}

// observingSink records the cursor and position gauges each time the
// shipper sends, resends included.
type observingSink struct {
	*rewindSink
	m                 *Metrics
	cursors, position []float64
}

func (o *observingSink) Send(ctx context.Context, es []audit.Entry) error {
	o.cursors = append(o.cursors, metricValue(o.m.Cursor.WithLabelValues(o.Name(), "consensus")))
	o.position = append(o.position, metricValue(o.m.Position.WithLabelValues(o.Name(), "consensus")))
	return o.rewindSink.Send(ctx, es)
}

// TestMetricsCursorMonotonicOnResend: a resend moves the position back,
// never the acknowledged cursor.
func TestMetricsCursorMonotonicOnResend(t *testing.T) {
	m, url := serveMetrics(t)
	src := newSource(40)
	o := &observingSink{rewindSink: &rewindSink{MemorySink: NewMemorySink("r"), failAt: 22, from: 8}, m: m}
	opts := fastOpts
	opts.Metrics = m
	sh := NewShipper(src, o, NewMemoryCursors(), opts)
	stop := run(t, sh)
	waitCursor(t, sh, 40, 10*time.Second)
	if got := scrape(t, url, `dstt_audit_sink_lag_entries{chain="consensus",sink="r"}`); got != 0 {
		t.Errorf("lag %v once caught up", got)
	}
	stop()
	wentBack := false
	for i := 1; i < len(o.cursors); i++ {
		if o.cursors[i] < o.cursors[i-1] {
			t.Fatalf("cursor gauge went back: %v", o.cursors)
		}
		wentBack = wentBack || o.position[i] < o.position[i-1]
	}
	if !wentBack || o.cursors[len(o.cursors)-1] < 21 {
		t.Fatalf("no resend seen: positions %v, cursors %v", o.position, o.cursors)
	}
	if got := scrape(t, url, `dstt_audit_sink_cursor_seq{chain="consensus",sink="r"}`); got != 40 {
		t.Fatalf("cursor %v", got)
	}
	if got := scrape(t, url, `dstt_audit_sink_position_seq{chain="consensus",sink="r"}`); got != 40 {
		t.Fatalf("position %v", got)
	}
}
