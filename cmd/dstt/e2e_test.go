package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/transport/client/cometrpc"
)

// These tests run the real dstt binary as separate processes: a node on a
// Pebble home in a temp dir, and the CLI against it.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// removeBinaries removes the dstt binary dsttBinary built (TestMain).
func removeBinaries() {
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
}

func dsttBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs real processes; skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dstt-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "dstt")
		// Build with the test's own database backend: homes the tests
		// initialise in-process name it.
		args := []string{"build", "-o", binPath}
		if consensus.DefaultDBBackend == "pebbledb" {
			args = append(args, "-tags", "pebbledb")
		}
		if raceEnabled {
			args = append(args, "-race") // a race in the node fails its test
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// devNode is a `dstt start --dev` process.
type devNode struct {
	t    *testing.T
	bin  string
	home string
	rpc  string
	p2p  string
	rest string // the REST gateway's host:port: the CLI's default transport
	// extra are more `dstt start` flags (e.g. the gateway's TLS).
	extra []string
	cmd   *exec.Cmd
	logs  *lockedBuffer
}

func newDevNode(t *testing.T) *devNode {
	n := &devNode{t: t, bin: dsttBinary(t), home: t.TempDir()}
	n.rpc = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	n.p2p = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	n.rest = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	t.Cleanup(func() {
		if n.cmd != nil && n.cmd.ProcessState == nil {
			_ = n.cmd.Process.Kill()
			_ = n.cmd.Wait()
		}
	})
	return n
}

// start runs the node and waits until its RPC answers.
func (n *devNode) start() {
	n.t.Helper()
	n.logs = &lockedBuffer{}
	n.cmd = n.command()
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.waitRPC()
}

// command is the node's `dstt start` command, not yet started.
func (n *devNode) command() *exec.Cmd {
	return exec.Command(n.bin, append([]string{"start", "--dev", "--home", n.home, "--rpc-laddr", n.rpc, "--p2p-laddr", n.p2p, "--rest-laddr", n.rest,
		"--log-level", "error", "--comet-log-level", "none"}, n.extra...)...)
}

// waitRPC waits until the node's RPC answers.
func (n *devNode) waitRPC() {
	n.t.Helper()
	c, err := cometrpc.New(n.rpc)
	if err != nil {
		n.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := c.ChainInfo(ctx); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			n.t.Fatalf("node did not come up: %v\n%s", ctx.Err(), n.logs)
		case <-tick.C:
		}
	}
}

// kill sends SIGKILL: no clean shutdown.
func (n *devNode) kill() {
	_ = n.cmd.Process.Kill()
	_ = n.cmd.Wait()
}

// stop sends SIGTERM and expects a clean exit.
func (n *devNode) stop() {
	n.t.Helper()
	_ = n.cmd.Process.Signal(os.Interrupt)
	if err := n.cmd.Wait(); err != nil {
		n.t.Fatalf("node exit: %v\n%s", err, n.logs)
	}
}

// cli runs the dstt CLI against the node; it returns stdout, stderr and
// the exit code.
func (n *devNode) cli(stdin string, args ...string) (string, string, int) {
	n.t.Helper()
	cmd := exec.Command(n.bin, append([]string{"--home", n.home}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader(stdin)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		n.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// cliJSON runs the CLI with -o json and decodes its output.
func (n *devNode) cliJSON(stdin string, args ...string) (map[string]any, int) {
	n.t.Helper()
	out, errs, code := n.cli(stdin, append(args, "-o", "json")...)
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		n.t.Fatalf("dstt %v: output is not JSON (%v): %q, stderr %q", args, err, out, errs)
	}
	return v, code
}

func TestCLIWalkthrough(t *testing.T) {
	n := newDevNode(t)
	n.start()

	put, code := n.cliJSON("", "tx", "put", "greeting", "hello")
	if code != 0 || put["code"].(float64) != 0 {
		t.Fatalf("put: code %d %v", code, put)
	}
	h1 := int64(put["height"].(float64))
	get, code := n.cliJSON("", "query", "get", "greeting")
	if code != 0 || get["value"] != "hello" || get["key"] != "greeting" || get["version"] != fmt.Sprintf("%d.0", h1) {
		t.Fatalf("get: %d %v", code, get)
	}
	if _, code := n.cliJSON("", "tx", "put", "greeting", "world"); code != 0 {
		t.Fatal("second put failed")
	}
	// As of h1 the old value is still readable.
	old, _ := n.cliJSON("", "query", "get", "greeting", "--height", fmt.Sprint(h1))
	if old["value"] != "hello" {
		t.Fatalf("get --height %d: %v", h1, old)
	}
	out, _, code := n.cli("", "query", "history", "greeting")
	if code != 0 || !strings.Contains(out, "world") || !strings.Contains(out, "hello") || strings.Index(out, "world") > strings.Index(out, "hello") {
		t.Fatalf("history (newest first): %q", out)
	}

	// A batch whose check fails applies none of its ops: CONFLICT, exit 1.
	batch := `{"ops": [{"put": {"key": "side", "value": "x"}}, {"check": {"key": "greeting", "version": "0"}}]}`
	res, code := n.cliJSON(batch, "tx", "batch", "-")
	if code != 1 || res["code_name"] != "CONFLICT" || res["code"].(float64) != 9 {
		t.Fatalf("conflicting batch: exit %d %v", code, res)
	}
	if _, errs, code := n.cli("", "query", "get", "side"); code != 1 || !strings.Contains(errs, "not found") {
		t.Fatalf("a conflicting batch wrote side: exit %d %q", code, errs)
	}
	// The right version passes.
	cur, _ := n.cliJSON("", "query", "get", "greeting")
	ok := fmt.Sprintf(`[{"check": {"key": "greeting", "version": %q}}, {"put": {"key": "side", "value": "x"}}, {"delete": {"key": "greeting"}}]`, cur["version"])
	if res, code := n.cliJSON(ok, "tx", "batch", "-"); code != 0 {
		t.Fatalf("good batch: %v", res)
	}

	// Replay: the same signed bytes twice.
	signed, code := n.cliJSON("", "tx", "put", "r", "1", "--sign-only")
	if code != 0 {
		t.Fatal("sign-only failed")
	}
	if res, code := n.cliJSON("", "tx", "broadcast", signed["tx"].(string)); code != 0 {
		t.Fatalf("broadcast: %v", res)
	}
	rep, code := n.cliJSON("", "tx", "broadcast", signed["tx"].(string))
	if code != 1 || rep["code_name"] != "REPLAY" {
		t.Fatalf("replay: exit %d %v", code, rep)
	}
	// Tampered signature: flip a bit in the last signature byte.
	raw := []byte(signed["tx"].(string))
	if raw[len(raw)-1] == '0' {
		raw[len(raw)-1] = '1'
	} else {
		raw[len(raw)-1] = '0'
	}
	bad, code := n.cliJSON("", "tx", "broadcast", string(raw))
	if code != 1 || bad["code_name"] != "BAD_SIGNATURE" {
		t.Fatalf("tampered: exit %d %v", code, bad)
	}
	st, code := n.cliJSON("", "query", "tx", signed["hash"].(string))
	if code != 0 || st["code_name"] != "OK" {
		t.Fatalf("query tx: %v", st)
	}
	n.stop()
}

// TestCrashRecovery: kill -9 the node while txs stream in, restart it, and
// require that every tx acknowledged as committed is readable, and that
// heights and app hashes carry on from where they were.
func TestCrashRecovery(t *testing.T) {
	n := newDevNode(t)
	n.start()
	signer := devSigner(t, n.home)
	c, err := cometrpc.New(n.rpc)
	if err != nil {
		t.Fatal(err)
	}

	type ack struct {
		key, value string
		height     int64
		hash       string
	}
	var (
		mu   sync.Mutex
		acks []ack
	)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				k, v := fmt.Sprintf("crash/%d/%d", w, i), fmt.Sprintf("v%d", i)
				res, err := c.Submit(ctx, putBody(k, v), signer)
				if err != nil {
					return // the node died under us: unacknowledged
				}
				mu.Lock()
				acks = append(acks, ack{k, v, res.Height, res.Hash})
				mu.Unlock()
			}
		}()
	}
	// Let txs flow, then kill mid-stream.
	waitFor(t, 60*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return len(acks) >= 60 })
	n.kill()
	cancel()
	wg.Wait()
	mu.Lock()
	acked := append([]ack(nil), acks...)
	mu.Unlock()
	var top int64
	for _, a := range acked {
		top = max(top, a.height)
	}
	t.Logf("%d txs acknowledged before kill -9, up to height %d", len(acked), top)

	n.start()
	c2, err := cometrpc.New(n.rpc)
	if err != nil {
		t.Fatal(err)
	}
	c2.SetReader(signer) // the dev key is the chain's admin: it may read everything
	rctx, rcancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer rcancel()
	for _, a := range acked {
		kv, _, err := c2.Get(rctx, a.key, 0)
		if err != nil || string(kv.Value) != a.value {
			t.Fatalf("acknowledged tx lost: %s=%s (height %d): got %q, %v", a.key, a.value, a.height, kv.Value, err)
		}
		if kv.Version.Height != uint64(a.height) {
			t.Fatalf("%s: version height %d, acknowledged at %d", a.key, kv.Version.Height, a.height)
		}
	}
	// The chain goes on from where it was.
	res, err := c2.Submit(rctx, putBody("after-restart", "yes"), signer)
	if err != nil {
		t.Fatal(err)
	}
	if res.Height <= top {
		t.Fatalf("new tx committed at height %d, not above the pre-crash height %d", res.Height, top)
	}
	n.stop()
}
