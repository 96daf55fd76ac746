package testnet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dstt/dstt/testnet"
)

// Every node gets its own REST gateway and gateway-metrics address, distinct
// from every other port of the network, in the manifest and in its start
// command; init refuses a REST port that is taken.
func TestGenerateGivesEveryNodeItsGateway(t *testing.T) {
	nw := generate(t, testnet.Options{})
	seen := map[string]string{}
	for _, n := range nw.Nodes {
		for _, a := range []string{n.P2P, n.RPC, n.Prometheus, n.REST, n.RESTMetrics} {
			a = strings.TrimPrefix(a, "tcp://")
			if a == "" || !strings.HasPrefix(a, "127.0.0.1:") {
				t.Errorf("%s: address %q", n.Name, a)
			}
			if other, dup := seen[a]; dup {
				t.Errorf("%s and %s share %s", other, n.Name, a)
			}
			seen[a] = n.Name
		}
		args := n.StartArgs()
		if !slices.Equal(args, []string{"start", "--home", n.Home, "--rest-laddr", n.REST, "--rest-metrics-laddr", n.RESTMetrics}) {
			t.Errorf("%s: start args %q", n.Name, args)
		}
		if !strings.Contains(n.Start, "--rest-laddr "+n.REST) || !strings.Contains(n.Start, "--rest-metrics-laddr "+n.RESTMetrics) || n.RESTURL() != "http://"+n.REST {
			t.Errorf("%s: start %q, REST URL %q", n.Name, n.Start, n.RESTURL())
		}
	}
	// The manifest holds them; Load gives them back, the start command
	// following a moved directory.
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(nw.Dir, moved); err != nil {
		t.Fatal(err)
	}
	loaded, err := testnet.Load(moved)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range loaded.Nodes {
		if n.REST != nw.Nodes[i].REST || n.RESTMetrics != nw.Nodes[i].RESTMetrics || !strings.Contains(n.Start, filepath.Join(moved, n.Name)) {
			t.Errorf("loaded %s: %+v", n.Name, n)
		}
	}
	raw, err := os.ReadFile(filepath.Join(moved, testnet.ManifestFile))
	if err != nil || !strings.Contains(string(raw), `"rest": "`+nw.Nodes[3].REST+`"`) || !strings.Contains(string(raw), `"start": "dstt start --home`) {
		t.Errorf("manifest: %v\n%s", err, raw)
	}

	// A taken REST port is reported before anything is written.
	base := freeBase(t)
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+3)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = testnet.Generate(testnet.Options{Dir: filepath.Join(t.TempDir(), "net"), Validators: 1, BasePort: base})
	if !errors.Is(err, testnet.ErrPortInUse) || !strings.Contains(err.Error(), "tcp/"+strconv.Itoa(base+3)) {
		t.Errorf("Generate with the REST port taken: %v", err)
	}
}

// freeBase picks a base port below the ephemeral range whose first five
// ports are free now.
func freeBase(t *testing.T) int {
	t.Helper()
	for range 50 {
		base := 20000 + 10*rand.IntN(1200)
		free := true
		for p := base; p < base+5 && free; p++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
			if err != nil {
				free = false
				continue
			}
			l.Close()
		}
		if free {
			return base
		}
	}
	t.Fatal("no free port range")
	return 0
}

// A node started without the scripts (no pid file) is found running by its
// ports: its REST gateway's /healthz, or a port that accepts connections.
func TestStatusFindsNodesWithoutPIDFile(t *testing.T) {
	nw := generate(t, testnet.Options{Validators: 1, BasePort: freeBase(t)})
	n := nw.Nodes[0]
	status := func() testnet.NodeStatus {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return testnet.Status(ctx, nw)[0]
	}
	if s := status(); s.Process != testnet.ProcessStopped || s.DetectedBy != "" || s.RESTUp {
		t.Fatalf("nothing runs: %+v", s)
	}
	// A gateway answering /healthz on the node's REST address.
	l, err := net.Listen("tcp", n.REST)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			fmt.Fprint(w, `{"status":"ok"}`)
			return
		}
		http.NotFound(w, r)
	})}
	go srv.Serve(l)
	s := status()
	if s.Process != testnet.ProcessRunning || s.DetectedBy != testnet.DetectedByREST || !s.RESTUp || s.PID != 0 || s.REST != n.REST {
		t.Errorf("gateway up, no pid file: %+v", s)
	}
	srv.Close()
	// Only the RPC port accepting connections (a node starting up).
	rl, err := net.Listen("tcp", strings.TrimPrefix(n.RPC, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	go func() {
		for {
			c, err := rl.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if s := status(); s.Process != testnet.ProcessRunning || s.DetectedBy != testnet.DetectedByPort || s.RESTUp {
		t.Errorf("RPC port open, no pid file: %+v", s)
	}
}

// The scripts start every node with its own gateway: all of them serve
// reads and writes, as docs/TESTNET.md's load example uses them; and a node
// started by hand, without the scripts, shows as running.
func TestScriptsGatewayOnEveryNode(t *testing.T) {
	bin := dsttBinary(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("the testnet scripts need bash")
	}
	dir := filepath.Join(t.TempDir(), "net")
	run := scriptRunner(t, dir, bin)
	var byHand *exec.Cmd
	t.Cleanup(func() {
		run("down.sh")
		if byHand != nil {
			_ = byHand.Process.Kill()
			_ = byHand.Wait()
		}
	})
	for attempt := 0; ; attempt++ {
		out, code := run("up.sh", "--validators", "3", "--base-port", strconv.Itoa(freeBase(t)))
		if code == 0 {
			break
		}
		if !strings.Contains(out, "port in use") || attempt == 10 {
			t.Fatalf("up.sh: exit %d\n%s", code, out)
		}
	}
	nw, err := testnet.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Every gateway answers, on its own address.
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for _, n := range nw.Nodes {
		var st struct {
			ChainID string `json:"chain_id"`
		}
		if err := getJSON(ctx, n.RESTURL()+"/v1/status", &st); err != nil || st.ChainID != nw.ChainID {
			t.Fatalf("%s: gateway %s: %v %+v", n.Name, n.RESTURL(), err, st)
		}
	}
	// Writes through one node's gateway, reads through another's.
	dstt := func(args ...string) (string, int) {
		o, err := exec.Command(bin, args...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(o), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(o), 0
	}
	if o, code := dstt("--home", nw.Nodes[1].Home, "--node", nw.Nodes[1].RESTURL(), "tx", "put", "via", "node2"); code != 0 {
		t.Fatalf("tx put via node2's gateway: %s", o)
	}
	// Access control is on: a signed read (the CLI signs with the home's key).
	if o, code := dstt("--home", nw.Nodes[2].Home, "--node", nw.Nodes[2].RESTURL(), "query", "get", "via"); code != 0 || !strings.Contains(o, "node2") {
		t.Fatalf("read via node3's gateway: exit %d %s", code, o)
	}

	// node3 stopped, then started by hand with its manifest command: no
	// pid file, yet status says it runs.
	n3 := nw.Nodes[2]
	pid, _ := os.ReadFile(filepath.Join(n3.Home, testnet.PIDFile))
	p, _ := strconv.Atoi(strings.TrimSpace(string(pid)))
	if p <= 0 || syscall.Kill(p, syscall.SIGTERM) != nil {
		t.Fatalf("node3 pid %q", pid)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: %v", what, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	waitFor("node3 gone", func() bool { return syscall.Kill(p, 0) != nil })
	if err := os.Remove(filepath.Join(n3.Home, testnet.PIDFile)); err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(filepath.Join(n3.Home, testnet.LogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	byHand = exec.Command(bin, n3.StartArgs()...)
	byHand.Stdout, byHand.Stderr = logf, logf
	if err := byHand.Start(); err != nil {
		t.Fatal(err)
	}
	var st struct {
		Nodes []testnet.NodeStatus `json:"nodes"`
	}
	var last string
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := os.ReadFile(filepath.Join(n3.Home, testnet.LogFile))
			t.Logf("last status:\n%s\nnode3's log (tail):\n%s", last, tail(string(logs), 30))
		}
	})
	waitFor("node3 answering", func() bool {
		o, code := run("status.sh", "-o", "json")
		st.Nodes = nil // decoding into old elements would keep their old fields
		err := json.Unmarshal([]byte(o), &st)
		last = fmt.Sprintf("exit %d, %v\n%s", code, err, o)
		return err == nil && len(st.Nodes) == 3 && st.Nodes[2].Reachable() && st.Nodes[2].RESTUp
	})
	if s := st.Nodes[2]; s.Process != testnet.ProcessRunning || s.PID != 0 || s.DetectedBy != testnet.DetectedByRPC {
		t.Errorf("node3 started by hand: %+v", s)
	}
	if o, _ := run("status.sh"); !strings.Contains(o, "running (no pid file; rpc answers)") {
		t.Errorf("status.sh text for a node started by hand:\n%s", o)
	}
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
