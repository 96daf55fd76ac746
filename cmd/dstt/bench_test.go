package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"
)

// `dstt start` serves the REST gateway, and `dstt bench` against it (on a
// dev chain with access control: the dev key grants the bench keys) commits
// txs of every kind and reports the fields scripts read.
func TestBenchAgainstDevNode(t *testing.T) {
	bin := dsttBinary(t)
	home := t.TempDir()
	rest := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	node := exec.Command(bin, "start", "--dev", "--home", home,
		"--rpc-laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)), "--p2p-laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t)),
		"--rest-laddr", rest, "--log-level", "error", "--comet-log-level", "none")
	var logs bytes.Buffer
	node.Stdout, node.Stderr = &logs, &logs
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = node.Process.Signal(os.Interrupt)
		_ = node.Wait()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get("http://" + rest + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the gateway never became ready:\n%s", logs.String())
		case <-tick.C:
		}
	}
	cmd := exec.CommandContext(ctx, bin, "bench", "--home", home, "--target", "http://"+rest,
		"--duration", "2s", "--warmup", "0s", "--concurrency", "4", "--batch", "5",
		"--mix", "put=60,rmw=30,hot=10", "--hot-keys", "2", "-o", "json")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("dstt bench: %v\n%s\nnode:\n%s", err, errb.String(), logs.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	for _, k := range []string{"committed_tps", "abort_rate", "p50_ms", "p95_ms", "p99_ms", "histogram"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("report lacks %s: %s", k, out.String())
		}
	}
	if rep["committed"].(float64) < 1 || rep["failed"].(float64) != 0 {
		t.Errorf("report: %s\nprogress: %s", out.String(), errb.String())
	}
	if !bytes.Contains(errb.Bytes(), []byte("tx/s committed")) {
		t.Errorf("no progress line on stderr: %q", errb.String())
	}
}
