package testnet_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// BenchmarkFailoverLatency measures commit latency on a 4-validator testnet under a
// closed-loop load (4 workers, each waiting for its tx's commit), first with all
// validators up, then with one killed: a dead validator is the round-0 proposer of
// every fourth height, which then costs a round (timeout_propose) before the next
// proposer commits. Each sub-benchmark is one timeout setting; it runs once whatever
// b.N is (use -benchtime 1x). docs/PERFORMANCE.md records the figures:
//
//	go test ./testnet -run '^$' -bench FailoverLatency -benchtime 1x -v
//
// -failover.window sets each measuring window; -failover.propose adds settings that
// differ from dstt's only in timeout_propose (e.g. -failover.propose 500ms,700ms);
// -failover.only NAME runs one variant; -failover.transport libp2p uses go-libp2p.
func BenchmarkFailoverLatency(b *testing.B) {
	variants := []struct {
		name     string
		timeouts map[string]string // config.toml [consensus] keys; nil: as generated
	}{
		{"dstt", nil},
		{"cometbft-defaults", map[string]string{
			"timeout_propose": "3s", "timeout_propose_delta": "500ms",
			"timeout_prevote": "1s", "timeout_prevote_delta": "500ms",
			"timeout_precommit": "1s", "timeout_precommit_delta": "500ms",
		}},
	}
	for _, p := range strings.Split(*failoverPropose, ",") {
		if p = strings.TrimSpace(p); p != "" {
			variants = append(variants, struct {
				name     string
				timeouts map[string]string
			}{"propose-" + p, map[string]string{"timeout_propose": p}})
		}
	}
	for _, v := range variants {
		if *failoverOnly != "" && v.name != *failoverOnly {
			continue
		}
		b.Run(v.name, func(b *testing.B) {
			c := newCluster(b, *failoverTransport, 4)
			for _, n := range c.nw.Nodes {
				setConsensusTimeouts(b, filepath.Join(n.Home, "config", "config.toml"), v.timeouts)
			}
			c.startAll(b)
			l := c.startLoad(b, "bench", 4)
			waitUntil(b, 60*time.Second, "warm-up commits", func() (bool, string) { return l.count(nil) >= 30, l.describe() })

			b.ResetTimer()
			allUp := time.Now()
			waitWindow(b, *failoverWindow)
			killed := time.Now()
			c.kill(b, "node4")
			// Steady state with one down: skip the height in flight at the kill.
			settled := killed.Add(time.Second)
			waitWindow(b, time.Second+*failoverWindow)
			end := time.Now()
			b.StopTimer()
			l.stop()

			acks := l.snapshot()
			for _, w := range []struct {
				label    string
				from, to time.Time
			}{{"all-up", allUp, killed}, {"1-down", settled, end}} {
				n, p50, p95, p99, worst := latencies(acks, func(a ack) bool { return !a.sent.Before(w.from) && a.sent.Before(w.to) })
				b.Logf("%s %s: %d txs in %s, commit latency p50 %s p95 %s p99 %s max %s", v.name, w.label, n,
					w.to.Sub(w.from).Round(time.Second), ms(p50), ms(p95), ms(p99), ms(worst))
				b.ReportMetric(float64(p50.Milliseconds()), "p50-ms-"+w.label)
				b.ReportMetric(float64(p95.Milliseconds()), "p95-ms-"+w.label)
				b.ReportMetric(float64(worst.Milliseconds()), "max-ms-"+w.label)
			}
		})
	}
}

var (
	failoverWindow    = flag.Duration("failover.window", 30*time.Second, "BenchmarkFailoverLatency: length of each measuring window")
	failoverPropose   = flag.String("failover.propose", "", "BenchmarkFailoverLatency: extra timeout_propose values to try, comma-separated")
	failoverTransport = flag.String("failover.transport", "tcp", "BenchmarkFailoverLatency: tcp or libp2p")
	failoverOnly      = flag.String("failover.only", "", "BenchmarkFailoverLatency: run only the variant with this name")
)

func ms(d time.Duration) string { return fmt.Sprintf("%dms", d.Milliseconds()) }

// waitWindow lets a measuring window pass while the load runs: the thing measured is
// what happens during it, so here a timer is the point, not a stand-in for an event.
func waitWindow(tb testing.TB, d time.Duration) {
	tb.Helper()
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}

// setConsensusTimeouts rewrites `key = "value"` lines of config.toml.
func setConsensusTimeouts(tb testing.TB, path string, kv map[string]string) {
	tb.Helper()
	if len(kv) == 0 {
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	s := string(data)
	for k, v := range kv {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(k) + ` = ".*"$`)
		if !re.MatchString(s) {
			tb.Fatalf("%s: no %s line", path, k)
		}
		s = re.ReplaceAllString(s, k+` = "`+v+`"`)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		tb.Fatal(err)
	}
}
