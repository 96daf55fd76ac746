package testnet_test

// Slow, lossy links: every P2P link of a four-validator network goes through a
// Toxiproxy proxy (in this test process) that adds 100 ms each way and emulates 1%
// packet loss; commit latency is measured with and without, and the transfer
// invariants are asserted afterwards.

import (
	"fmt"
	"math"
	"math/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/Shopify/toxiproxy/v2/toxics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Link faults of TestSlowLinks.
const (
	linkDelayMs = 100  // added to every chunk, in each direction of every link
	linkLoss    = 0.01 // per TCP segment
	// segmentBytes is an Ethernet TCP segment's payload (MSS 1448 with timestamps):
	// how many segments a chunk of the stream stands for.
	segmentBytes = 1448
	// retransmitDelay is what a lost segment costs a TCP stream: Linux's minimum
	// retransmission timeout, during which everything behind it waits.
	retransmitDelay = 200 * time.Millisecond
)

// retransmitToxic emulates packet loss on a TCP stream the way the receiver sees it:
// TCP retransmits a lost segment, so nothing is lost, but the data is late by a
// retransmission timeout and everything behind it waits (head-of-line). A chunk of
// n bytes stands for ceil(n/segmentBytes) segments, each lost with probability Loss.
type retransmitToxic struct {
	Loss float64 `json:"loss"`
}

func (t *retransmitToxic) GetBufferSize() int { return 1024 }

func (t *retransmitToxic) Pipe(stub *toxics.ToxicStub) {
	var due time.Time // when the previous chunk went out: order is kept
	for {
		select {
		case <-stub.Interrupt:
			return
		case c := <-stub.Input:
			if c == nil {
				stub.Close()
				return
			}
			segments := math.Ceil(float64(len(c.Data)) / segmentBytes)
			at := c.Timestamp
			if rand.Float64() < 1-math.Pow(1-t.Loss, segments) { //nolint:gosec // a fault model, not a secret
				at = at.Add(retransmitDelay)
			}
			if at.Before(due) {
				at = due
			}
			due = at
			select {
			case <-time.After(time.Until(at)):
				stub.Output <- c
			case <-stub.Interrupt:
				stub.Output <- c
				return
			}
		}
	}
}

func init() { toxics.Register("retransmit", new(retransmitToxic)) }

// proxyLinks routes every P2P link through a proxy of its own: node i dials node j at
// the proxy for (i, j), which forwards to j (its persistent_peers are rewritten). The
// nodes must not be running yet. It returns the proxies, stopped when the test ends.
func (c *cluster) proxyLinks(t *testing.T) []*toxiproxy.Proxy {
	t.Helper()
	srv := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), zerolog.Nop())
	var proxies []*toxiproxy.Proxy
	nodes := c.network().Nodes
	for _, from := range nodes {
		var peers []string
		for _, to := range nodes {
			if to.Name == from.Name {
				continue
			}
			p := toxiproxy.NewProxy(srv, from.Name+"-"+to.Name, "127.0.0.1:0", strings.TrimPrefix(to.P2P, "tcp://"))
			if err := p.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Stop)
			proxies = append(proxies, p)
			peers = append(peers, to.NodeID+"@"+p.Listen)
		}
		setConfigValue(t, filepath.Join(from.Home, "config", "config.toml"), "persistent_peers", `"`+strings.Join(peers, ",")+`"`)
	}
	return proxies
}

// addLinkFaults adds the delay and the loss to both directions of every proxy.
func addLinkFaults(t *testing.T, proxies []*toxiproxy.Proxy) {
	t.Helper()
	for _, p := range proxies {
		for _, dir := range []string{"upstream", "downstream"} {
			for _, tox := range []string{
				fmt.Sprintf(`{"name":"delay_%s","type":"latency","stream":%q,"attributes":{"latency":%d}}`, dir, dir, linkDelayMs),
				fmt.Sprintf(`{"name":"loss_%s","type":"retransmit","stream":%q,"attributes":{"loss":%g}}`, dir, dir, linkLoss),
			} {
				if _, err := p.Toxics.AddToxicJson(strings.NewReader(tox)); err != nil {
					t.Fatalf("%s: %v", p.Name, err)
				}
			}
		}
	}
}

// TestSlowLinks: commit latency of transfers on four validators whose every P2P link
// has 100 ms added each way and 1% of its TCP segments retransmitted, against the same
// network without the faults; then the invariants. Figures: docs/PERFORMANCE.md.
func TestSlowLinks(t *testing.T) {
	c := newCluster(t, "tcp", 4)
	proxies := c.proxyLinks(t)
	c.startAll(t)
	tr := c.startTransfers(t, "s", 4)
	want := 20 * faultScale()
	measure := func(what string) (int, time.Duration, time.Duration) {
		from := time.Now()
		waitUntil(t, time.Duration(want)*3*time.Second, fmt.Sprintf("%d transfers %s", want, what), func() (bool, string) {
			return tr.count(func(a ack) bool { return a.sent.After(from) }) >= want, tr.describe()
		})
		tr.mu.Lock()
		acks := append([]ack(nil), tr.acks...)
		tr.mu.Unlock()
		n, p50, p95, _, worst := latencies(acks, func(a ack) bool { return a.sent.After(from) })
		t.Logf("%s: %d transfers, commit latency p50 %s p95 %s max %s", what, n, p50.Round(time.Millisecond), p95.Round(time.Millisecond), worst.Round(time.Millisecond))
		return n, p50, p95
	}
	_, base50, _ := measure("through clean proxies")
	addLinkFaults(t, proxies)
	_, slow50, _ := measure(fmt.Sprintf("with %d ms each way and %g%% loss on every link", linkDelayMs, linkLoss*100))
	// A commit needs a proposal and two rounds of votes across the links: the added
	// delay must show (at least two one-way delays), else the faults were not applied.
	if slow50-base50 < 2*linkDelayMs*time.Millisecond {
		t.Fatalf("p50 went from %s to only %s with %d ms links: the link faults did not apply", base50, slow50, linkDelayMs)
	}
	tr.checkInvariants(t, c.names()...)
}
