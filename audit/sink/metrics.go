package sink

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the shippers' Prometheus metrics, labelled by sink and chain
// (documented in docs/AUDIT.md, "Metrics"):
//
//	dstt_audit_sink_lag_entries      gauge    source head seq - acknowledged seq, read at scrape time
//	dstt_audit_sink_cursor_seq       gauge    highest acknowledged seq; never goes back while the shipper runs
//	dstt_audit_sink_position_seq     gauge    seq the shipper sends after (below the cursor while resending)
//	dstt_audit_sink_shipped_total    counter  entries acknowledged (re-sent ones count again)
//	dstt_audit_sink_failures_total   counter  failed attempts (read, verify, send, acknowledgement or save)
//	dstt_audit_sink_up               gauge    1 after a successful send, 0 after a failure
//
// Metrics is one prometheus.Collector: register it with any number of
// registries. The lag of each running shipper is computed when scraped,
// from the source's head at that moment, so it keeps growing while a sink
// is down and backing off.
type Metrics struct {
	Cursor   *prometheus.GaugeVec
	Position *prometheus.GaugeVec
	Shipped  *prometheus.CounterVec
	Failures *prometheus.CounterVec
	Up       *prometheus.GaugeVec
	lag      *prometheus.Desc

	mu       sync.Mutex
	shippers []*Shipper // running, in start order
}

var _ prometheus.Collector = (*Metrics)(nil)

// scrapeHeadTimeout bounds the source read a scrape makes per shipper.
const scrapeHeadTimeout = time.Second

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). Registering twice with one registry reuses the first.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	labels := []string{"sink", "chain"}
	m := &Metrics{
		Cursor: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "dstt", Subsystem: "audit_sink", Name: "cursor_seq",
			Help: "Highest audit entry sequence number the sink's receiver acknowledged (never goes back while the shipper runs)."}, labels),
		Position: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "dstt", Subsystem: "audit_sink", Name: "position_seq",
			Help: "Audit entry sequence number the sink sends after: the cursor, or lower while entries are sent again."}, labels),
		Shipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dstt", Subsystem: "audit_sink", Name: "shipped_total",
			Help: "Audit entries acknowledged by the sink's receiver (re-sent entries count again)."}, labels),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dstt", Subsystem: "audit_sink", Name: "failures_total",
			Help: "Failed attempts to read, verify, send, get acknowledged or record audit entries for the sink."}, labels),
		Up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "dstt", Subsystem: "audit_sink", Name: "up",
			Help: "1 if the sink's last attempt succeeded, else 0."}, labels),
		lag: prometheus.NewDesc("dstt_audit_sink_lag_entries",
			"Audit entries after the sink's acknowledged cursor up to the source's head, read at scrape time.", labels, nil),
	}
	if reg == nil {
		return m, nil
	}
	if err := reg.Register(m); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(*Metrics); ok {
				return existing, nil
			}
		}
		return nil, err
	}
	return m, nil
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	m.Cursor.Describe(ch)
	m.Position.Describe(ch)
	m.Shipped.Describe(ch)
	m.Failures.Describe(ch)
	m.Up.Describe(ch)
	ch <- m.lag
}

// Collect implements prometheus.Collector: the lag of every running
// shipper (one per sink and chain) is computed now.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	m.Cursor.Collect(ch)
	m.Position.Collect(ch)
	m.Shipped.Collect(ch)
	m.Failures.Collect(ch)
	m.Up.Collect(ch)
	m.mu.Lock()
	shippers := append([]*Shipper(nil), m.shippers...)
	m.mu.Unlock()
	seen := map[[2]string]bool{}
	for _, s := range shippers {
		l := [2]string{s.sink.Name(), s.opts.Chain}
		if seen[l] {
			continue
		}
		seen[l] = true
		ch <- prometheus.MustNewConstMetric(m.lag, prometheus.GaugeValue, float64(s.scrapeLag()), l[0], l[1])
	}
}

// running adds s to the shippers whose lag is collected; the function
// returned removes it.
func (m *Metrics) running(s *Shipper) (done func()) {
	m.mu.Lock()
	m.shippers = append(m.shippers, s)
	m.mu.Unlock()
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		for i, x := range m.shippers {
			if x == s {
				m.shippers = append(m.shippers[:i], m.shippers[i+1:]...)
				return
			}
		}
	}
}

// scrapeLag reads the source's head now (falling back on the last head
// seen when the source does not answer in time) and returns how many
// entries follow the acknowledged cursor.
func (s *Shipper) scrapeLag() uint64 {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeHeadTimeout)
	head, err := s.src.Head(ctx)
	cancel()
	if err == nil {
		s.setHead(head.Seq)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status.Head > s.status.Acknowledged {
		return s.status.Head - s.status.Acknowledged
	}
	return 0
}
