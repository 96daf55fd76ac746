package sink

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the shippers' Prometheus metrics, labelled by sink and chain:
//
//	dstt_audit_sink_lag_entries      gauge    head seq - acknowledged seq
//	dstt_audit_sink_cursor_seq       gauge    last acknowledged seq
//	dstt_audit_sink_shipped_total    counter  entries acknowledged (re-sent ones count again)
//	dstt_audit_sink_failures_total   counter  failed attempts (read, verify, send or save)
//	dstt_audit_sink_up               gauge    1 after a successful send, 0 after a failure
type Metrics struct {
	Lag      *prometheus.GaugeVec
	Cursor   *prometheus.GaugeVec
	Shipped  *prometheus.CounterVec
	Failures *prometheus.CounterVec
	Up       *prometheus.GaugeVec
}

// NewMetrics creates the metrics and registers them with reg (nil: not
// registered). Registering twice with one registry reuses the first.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	labels := []string{"sink", "chain"}
	m := &Metrics{
		Lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "dstt", Subsystem: "audit_sink", Name: "lag_entries",
			Help: "Audit entries not yet acknowledged by the sink's receiver."}, labels),
		Cursor: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "dstt", Subsystem: "audit_sink", Name: "cursor_seq",
			Help: "Last audit entry sequence number acknowledged by the sink's receiver."}, labels),
		Shipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dstt", Subsystem: "audit_sink", Name: "shipped_total",
			Help: "Audit entries acknowledged by the sink's receiver (re-sent entries count again)."}, labels),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dstt", Subsystem: "audit_sink", Name: "failures_total",
			Help: "Failed attempts to read, verify, send or record audit entries for the sink."}, labels),
		Up: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "dstt", Subsystem: "audit_sink", Name: "up",
			Help: "1 if the sink's last attempt succeeded, else 0."}, labels),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.Lag, err = register(reg, m.Lag); err != nil {
		return nil, err
	}
	if m.Cursor, err = register(reg, m.Cursor); err != nil {
		return nil, err
	}
	if m.Shipped, err = register(reg, m.Shipped); err != nil {
		return nil, err
	}
	if m.Failures, err = register(reg, m.Failures); err != nil {
		return nil, err
	}
	if m.Up, err = register(reg, m.Up); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers c, or returns the collector already registered under
// its name.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, err
	}
	return c, nil
}
