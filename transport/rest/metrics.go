package rest

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/dstt/dstt/types"
)

// metrics are the gateway's Prometheus series, on their own registry,
// served at /metrics on Config.MetricsListenAddress (never on the REST
// address). Names and labels are stable.
type metrics struct {
	reg *prometheus.Registry

	requests        *prometheus.CounterVec   // route, status
	requestDuration *prometheus.HistogramVec // route
	submitted       *prometheus.CounterVec   // mode
	committed       []prometheus.Counter     // by types.Code (index); last = other
	rejected        []prometheus.Counter     // CheckTx rejections by types.Code; last = other
	refused         *prometheus.CounterVec   // mempool refusals: reason
	checkTxLatency  prometheus.Histogram
	commitLatency   prometheus.Histogram // submit -> committed, for txs submitted here
	blockTxs        prometheus.Histogram
	height          prometheus.Gauge
	streams         prometheus.Gauge
	lagged          prometheus.Counter
	openConns       prometheus.Gauge
	refusedConns    *prometheus.CounterVec // reason
	unrecorded      *prometheus.CounterVec // refusals the security log does not record: reason
}

// latencyBuckets span 0.5 ms to ~16 s.
var latencyBuckets = prometheus.ExponentialBuckets(0.0005, 2, 16)

func newMetrics(b Backend) *metrics {
	reg := prometheus.NewRegistry()
	m := &metrics{reg: reg}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dstt_rest_requests_total", Help: "REST requests by route and HTTP status.",
	}, []string{"route", "status"})
	m.requestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "dstt_rest_request_duration_seconds", Help: "REST request duration by route.", Buckets: latencyBuckets,
	}, []string{"route"})
	m.submitted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dstt_txs_submitted_total", Help: "Txs submitted through POST /v1/txs, by mode.",
	}, []string{"mode"})
	committed := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dstt_txs_committed_total",
		Help: "Txs in committed blocks, by result code (all txs, whichever way they came). tx/s: rate(dstt_txs_committed_total{code=\"OK\"}[1m]).",
	}, []string{"code"})
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dstt_checktx_rejections_total", Help: "Txs submitted here that CheckTx rejected, by result code.",
	}, []string{"code"})
	codes := types.Codes()
	for _, c := range codes {
		m.committed = append(m.committed, committed.WithLabelValues(c.Name()))
		m.rejected = append(m.rejected, rejected.WithLabelValues(c.Name()))
	}
	m.committed = append(m.committed, committed.WithLabelValues("other"))
	m.rejected = append(m.rejected, rejected.WithLabelValues("other"))
	m.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dstt_mempool_refusals_total", Help: "Txs submitted here that the mempool refused before CheckTx, by reason.",
	}, []string{"reason"})
	m.checkTxLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "dstt_checktx_duration_seconds", Help: "Mempool admission (CheckTx) time of txs submitted here.", Buckets: latencyBuckets,
	})
	m.commitLatency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "dstt_tx_commit_latency_seconds", Help: "From admission to the committed block, for txs submitted here.", Buckets: latencyBuckets,
	})
	m.blockTxs = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "dstt_block_txs", Help: "Txs per committed block.", Buckets: prometheus.ExponentialBuckets(1, 4, 9),
	})
	m.height = prometheus.NewGauge(prometheus.GaugeOpts{Name: "dstt_block_height", Help: "Last committed height seen by the gateway."})
	m.streams = prometheus.NewGauge(prometheus.GaugeOpts{Name: "dstt_event_streams", Help: "Open GET /v1/events streams."})
	m.lagged = prometheus.NewCounter(prometheus.CounterOpts{Name: "dstt_event_streams_lagged_total", Help: "Event streams ended because the client fell behind."})
	m.openConns = prometheus.NewGauge(prometheus.GaugeOpts{Name: "dstt_rest_open_connections", Help: "Open REST connections."})
	m.refusedConns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dstt_rest_connections_refused_total", Help: "REST connections reset on accept because a cap was reached, by cap.",
	}, []string{"reason"})
	m.unrecorded = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "dstt_rest_refusals_unrecorded_total",
		Help: fmt.Sprintf("Refusals of outside clients beyond the gateway's maximum of refusal groups (%d), which the node security log records only in one overflow group per kind, action and code, by reason.", refusalMaxClients),
	}, []string{"reason"})
	m.unrecorded.WithLabelValues("clients")
	m.refusedConns.WithLabelValues(refusedTotal)
	m.refusedConns.WithLabelValues(refusedPerIP)
	for _, c := range []prometheus.Collector{m.requests, m.requestDuration, m.submitted, committed, rejected, m.refused,
		m.checkTxLatency, m.commitLatency, m.blockTxs, m.height, m.streams, m.lagged, m.openConns, m.refusedConns, m.unrecorded} {
		f(c)
	}
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dstt_mempool_txs", Help: "Txs in the mempool."},
		func() float64 { n, _ := b.MempoolSize(); return float64(n) }))
	f(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dstt_mempool_bytes", Help: "Bytes of txs in the mempool."},
		func() float64 { _, n := b.MempoolSize(); return float64(n) }))
	return m
}

func codeIndex(code uint32, n int) int {
	if int(code) < n-1 {
		return int(code)
	}
	return n - 1
}

func (m *metrics) observeCommitted(codes []uint32) {
	var counts [32]int
	var other int
	for _, c := range codes {
		if int(c) < len(counts) {
			counts[c]++
		} else {
			other++
		}
	}
	for c, n := range counts {
		if n > 0 {
			m.committed[codeIndex(uint32(c), len(m.committed))].Add(float64(n))
		}
	}
	if other > 0 {
		m.committed[len(m.committed)-1].Add(float64(other))
	}
	m.blockTxs.Observe(float64(len(codes)))
}

func (m *metrics) observeRejected(code uint32) {
	m.rejected[codeIndex(code, len(m.rejected))].Inc()
}

func seconds(d time.Duration) float64 { return d.Seconds() }
