package executor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dstt/dstt/testnet/freeport"
	"github.com/dstt/dstt/transport/branchapi"
	"github.com/dstt/dstt/transport/participant"
	"github.com/dstt/dstt/types"
)

// The side-by-side benchmark: the same two-branch saga (debit alice at
// bank A, credit bob at bank B, each bank its own PostgreSQL and
// participant service) coordinated by dstt (BenchmarkSagaDstt: one
// validator, one executor) and by a DTM server (BenchmarkSagaDTM: DTM
// v1.19.0 on BoltDB, calling the same participant functions through DTM's
// HTTP branch protocol). Each reports finished sagas/s and the p50/p95
// latency from submit to final state, with benchConcurrency sagas in
// flight. The DTM binary is $DSTT_DTM_BIN or what `make bench-gtx` builds.

// benchConcurrency is how many sagas are in flight ($DSTT_BENCH_SAGAS, default 32).
var benchConcurrency = func() int {
	if n, err := strconv.Atoi(os.Getenv("DSTT_BENCH_SAGAS")); err == nil && n > 0 {
		return n
	}
	return 32
}()

// runSagas runs b.N sagas, benchConcurrency at a time, and reports the
// throughput and latency percentiles.
func runSagas(b *testing.B, one func(i int) error) {
	b.Helper()
	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for range benchConcurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				t0 := time.Now()
				if err := one(i); err != nil {
					failed.Add(1)
					b.Error(err)
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "sagas/s")
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Milliseconds()), "p95-ms")
	b.ReportMetric(0, "ns/op")
}

func BenchmarkSagaDstt(b *testing.B) {
	w := newWorld(b)
	w.runExecutor(w.execs[0])
	rest := w.node.AdminClient(b) // submits over the gateway: RPC commit waits are few per client
	defer rest.Close()
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	runSagas(b, func(i int) error {
		gid := fmt.Sprintf("bench-%s-%d", run, i)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		_, err := rest.BeginGtx(ctx, &types.BeginGtx{Gid: gid, Mode: types.GtxMode_GTX_MODE_SAGA,
			DeadlineUnixMs: time.Now().Add(time.Hour).UnixMilli(), Branches: sagaBranches("bob", 1)})
		if err != nil {
			return err
		}
		g, err := w.admin.AwaitGtx(ctx, gid, 50*time.Millisecond, nil)
		if err == nil && g.Phase != types.GtxPhase_GTX_PHASE_COMMITTED {
			err = fmt.Errorf("gtx %s ended %s", gid, g.Phase)
		}
		return err
	})
}

func sagaBranches(to string, amount int64) []types.GtxBranch {
	return []types.GtxBranch{
		{Participant: "bank-a", Action: payload("alice", -amount), Compensate: payload("alice", amount)},
		{Participant: "bank-b", Action: payload(to, amount), Compensate: payload(to, -amount)},
	}
}

// dtmBranch serves DTM's HTTP branch protocol (gid, branch_id and op in
// the query, the payload as the body) with a bank's participant
// functions and barrier: 200 for success, 409 FAILURE for a failure.
func dtmBranch(p *participant.Participant) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		branch, _ := strconv.ParseUint(q.Get("branch_id"), 10, 32)
		body, _ := io.ReadAll(r.Body)
		ans, err := p.Run(r.Context(), participant.Branch{GID: q.Get("gid"), Branch: uint32(branch), Operation: q.Get("op"), Attempt: 1, Payload: body})
		switch {
		case err != nil:
			http.Error(w, err.Error(), http.StatusInternalServerError)
		case ans.Outcome == branchapi.OutcomeSucceeded:
			w.Write([]byte(`{"dtm_result":"SUCCESS"}`)) //nolint:errcheck // the client went away
		case ans.Outcome == branchapi.OutcomeFailed:
			http.Error(w, `{"dtm_result":"FAILURE"}`, http.StatusConflict)
		default:
			http.Error(w, `{"dtm_result":"ONGOING"}`, http.StatusTooEarly)
		}
	})
}

func dtmBinary(b *testing.B) string {
	if p := os.Getenv("DSTT_DTM_BIN"); p != "" {
		return p
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "dstt", "dtm-1.19.0", "dtm")
	if _, err := os.Stat(p); err != nil {
		b.Skipf("no DTM binary at %s (make bench-gtx builds it)", p)
	}
	return p
}

// startDTM runs a DTM server on BoltDB and returns its HTTP base URL.
func startDTM(b *testing.B) string {
	dir := b.TempDir()
	ports := freeport.Ports(b, 3)
	conf := fmt.Sprintf("Store:\n  Driver: 'boltdb'\nHttpPort: %d\nGrpcPort: %d\nJsonRpcPort: %d\nLogLevel: 'error'\nRequestTimeout: 30\n", ports[0], ports[1], ports[2])
	if err := os.WriteFile(filepath.Join(dir, "conf.yml"), []byte(conf), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(dtmBinary(b), "-c", filepath.Join(dir, "conf.yml"))
	cmd.Dir = dir
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() }) //nolint:errcheck // killed
	url := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(url + "/api/dtmsvr/newGid")
		if err == nil {
			resp.Body.Close()
			return url
		}
		if time.Now().After(deadline) {
			b.Fatalf("DTM did not answer: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond) // polls the server, bounded by the deadline above
	}
}

func BenchmarkSagaDTM(b *testing.B) {
	dtm := startDTM(b)
	w := newWorld(b)
	sa, sb := httptest.NewServer(dtmBranch(w.a.p)), httptest.NewServer(dtmBranch(w.b.p))
	b.Cleanup(sa.Close)
	b.Cleanup(sb.Close)
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	hc := &http.Client{Timeout: 2 * time.Minute}
	runSagas(b, func(i int) error {
		body, _ := json.Marshal(map[string]any{
			"gid": fmt.Sprintf("bench-%s-%d", run, i), "trans_type": "saga", "wait_result": true, "protocol": "http",
			"steps": []map[string]string{
				{"action": sa.URL, "compensate": sa.URL},
				{"action": sb.URL, "compensate": sb.URL},
			},
			"payloads": []string{string(payload("alice", -1)), string(payload("bob", 1))},
		})
		resp, err := hc.Post(dtm+"/api/dtmsvr/submit", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !bytes.Contains(out, []byte("SUCCESS")) {
			return fmt.Errorf("DTM submit: %d %s", resp.StatusCode, out)
		}
		return nil
	})
}
