package doctest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dstt/dstt/security/vault/vaulttest"
	"github.com/dstt/dstt/testnet/freeport"
	"github.com/dstt/dstt/transport/api"
	"github.com/rogpeppe/go-internal/testscript"
)

// unconverted lists the docs whose blocks are not yet all marked; it may
// only shrink (a listed doc that has been converted fails the test, so that
// it leaves the list). Their flows run all the same: a block that is marked
// is tested.
var unconverted = map[string]bool{}

// docFiles are the markdown files whose command sequences are tested (those
// of unconverted docs too).
func docFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../*.md")
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"../../README.md"}
	return append(out, files...)
}

// flows groups the tested blocks by flow; a flow lives in one file.
func flows(t *testing.T) (byFlow map[string][]Block, untested int, unmarked []error) {
	t.Helper()
	byFlow = map[string][]Block{}
	for _, f := range docFiles(t) {
		blocks, err := Blocks(f)
		if err != nil && unconverted[filepath.Base(f)] {
			continue // not converted yet
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			if err := b.Unmarked(); err != nil {
				if !unconverted[filepath.Base(f)] {
					unmarked = append(unmarked, err)
				}
				continue
			}
			if b.Flow == "" {
				untested++
				continue
			}
			if prev := byFlow[b.Flow]; len(prev) > 0 && prev[0].File != b.File {
				t.Fatalf("%s:%d: flow %q is already used in %s", b.File, b.Line, b.Flow, prev[0].File)
			}
			byFlow[b.Flow] = append(byFlow[b.Flow], b)
		}
	}
	return byFlow, untested, unmarked
}

// TestEveryBlockIsMarked: every sh block of the docs is tested or says why
// not, every flow has a prelude, and every prelude a flow.
func TestEveryBlockIsMarked(t *testing.T) {
	byFlow, untested, unmarked := flows(t)
	for _, err := range unmarked {
		t.Error(err)
	}
	for name := range unconverted {
		blocks, err := Blocks(filepath.Join("..", name))
		if err != nil {
			continue // not converted yet
		}
		marked := len(blocks) > 0
		for _, b := range blocks {
			marked = marked && b.Unmarked() == nil
		}
		if marked || len(blocks) == 0 {
			t.Errorf("docs/%s has no unmarked sh block: take it off the unconverted list", name)
		}
	}
	preludes, _ := filepath.Glob("testdata/*.txtar")
	have := map[string]bool{}
	for _, p := range preludes {
		name := strings.TrimSuffix(filepath.Base(p), ".txtar")
		have[name] = true
		if _, ok := byFlow[name]; !ok {
			t.Errorf("%s: no doc block is marked <!-- doctest: %s -->", p, name)
		}
	}
	for flow, blocks := range byFlow {
		if !have[flow] {
			t.Errorf("%s:%d: flow %q has no prelude testdata/%s.txtar", blocks[0].File, blocks[0].Line, flow, flow)
		}
	}
	t.Logf("%d flows tested, %d blocks marked not tested", len(byFlow), untested)
}

var dsttBin string

// buildDstt builds dstt once into a directory the test removes, next to
// the Vault binary the tests use (vaulttest.Binary) named vault, as the
// docs' commands call it.
func buildDstt(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	dsttBin = filepath.Join(dir, "dstt")
	// GOFLAGS (-tags=pebbledb from the Makefile) comes through the environment.
	out, err := exec.Command("go", "build", "-tags", "pebbledb", "-o", dsttBin, "../../cmd/dstt").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if v, ok := vaulttest.Binary(); ok {
		if err := os.Symlink(v, filepath.Join(dir, "vault")); err != nil {
			t.Fatal(err)
		}
	}
}

// portsPerFlow is how many free ports each flow gets, as $PORT0… and, for
// a single node, $PORT_REST, $PORT_RPC, $PORT_P2P and $PORT_METRICS; and
// $PORT_RANGE is the first of rangePerFlow consecutive ones (a testnet's
// base port).
const (
	portsPerFlow = 16
	rangePerFlow = 100
)

// TestDocs runs every flow, each in its own work directory and home, on
// free ports of its own (the preludes start nodes with them and the CLI finds
// a node through its home's client.json, as the docs' commands do).
func TestDocs(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real dstt processes; skipped with -short")
	}
	byFlow, _, _ := flows(t)
	buildDstt(t)
	dir := t.TempDir()
	for flow, blocks := range byFlow {
		prelude, err := os.ReadFile(filepath.Join("testdata", flow+".txtar"))
		if err != nil {
			t.Fatal(err)
		}
		var env strings.Builder
		for i, p := range freeport.Ports(t, portsPerFlow) {
			fmt.Fprintf(&env, "env PORT%d=%d\n", i, p)
			if i < len(singleNodePorts) {
				fmt.Fprintf(&env, "env PORT_%s=%d\n", singleNodePorts[i], p)
			}
		}
		fmt.Fprintf(&env, "env PORT_RANGE=%d\n", freeport.Range(t, rangePerFlow))
		script := Script(append([]byte(env.String()), prelude...), blocks)
		if err := os.WriteFile(filepath.Join(dir, flow+".txtar"), script, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	testscript.Run(t, testscript.Params{
		Dir:       dir,
		Setup:     setup,
		Cmds:      map[string]func(*testscript.TestScript, bool, []string){"waithttp": waitHTTP, "waitnode": waitNode},
		Condition: hasVault,
	})
}

var singleNodePorts = []string{"REST", "RPC", "P2P", "METRICS"}

// setup gives a script a home of its own; dstt on PATH, as ./dstt and as
// bin/dstt (the docs build it there); the testnet scripts as testnet/*.sh
// (so that, as from the repository's root, they use bin/dstt and
// testnet/out); and the Vault binary the tests built, on PATH as vault.
func setup(env *testscript.Env) error {
	home := filepath.Join(env.WorkDir, "home")
	for _, d := range []string{home, filepath.Join(env.WorkDir, "bin"), filepath.Join(env.WorkDir, "testnet")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	links := map[string]string{"dstt": dsttBin, "bin/dstt": dsttBin}
	scripts, err := filepath.Glob("../../testnet/*.sh")
	if err != nil {
		return err
	}
	for _, s := range scripts {
		abs, err := filepath.Abs(s)
		if err != nil {
			return err
		}
		links["testnet/"+filepath.Base(s)] = abs
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(env.WorkDir, name)); err != nil {
			return err
		}
	}
	env.Setenv("HOME", home)
	env.Setenv(flowMarker, env.WorkDir)
	env.Defer(func() { stopFlowProcesses(env.WorkDir) })
	env.Setenv("PATH", filepath.Dir(dsttBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, k := range []string{"DSTT_VAULT_BIN", "GOFLAGS", "TMPDIR"} {
		if v := os.Getenv(k); v != "" {
			env.Setenv(k, v)
		}
	}
	return nil
}

// hasVault is the scripts' condition [vault]: there is a Vault binary. With
// none, a flow that runs Vault skips ([!vault] skip), except under make test
// ($DSTT_REQUIRE_VAULT), where it fails, as the Vault tests do
// (vaulttest.RequireBinary).
func hasVault(cond string) (bool, error) {
	if cond != "vault" {
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	if _, ok := vaulttest.Binary(); ok {
		return true, nil
	}
	if os.Getenv(vaulttest.EnvRequire) != "" {
		return false, fmt.Errorf("no Vault binary: this flow runs a real Vault server; build it once with `make test-deps` (looked at $%s, %s and $PATH)", vaulttest.EnvBin, vaulttest.CachedBinary())
	}
	return false, nil
}

// waitHTTP URL [TIMEOUT] waits until URL answers 200 (default 60s).
func waitHTTP(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: waithttp URL [TIMEOUT]")
	}
	poll(ts, args[1:], func(c *http.Client) error {
		resp, err := c.Get(args[0])
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: status %s", args[0], resp.Status)
		}
		return nil
	})
}

// waitNode URL HEIGHT [TIMEOUT] waits until the node whose REST gateway is
// at URL has committed HEIGHT (default timeout 60s).
func waitNode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: waitnode URL HEIGHT [TIMEOUT]")
	}
	want, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	poll(ts, args[2:], func(c *http.Client) error {
		resp, err := c.Get(strings.TrimSuffix(args[0], "/") + "/v1/status")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var st api.Status
		if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
			return err
		}
		if st.LatestHeight < want {
			return fmt.Errorf("at height %d", st.LatestHeight)
		}
		return nil
	})
}

// poll calls try until it succeeds or the timeout (args[0], default 60s)
// passes.
func poll(ts *testscript.TestScript, args []string, try func(*http.Client) error) {
	timeout := 60 * time.Second
	if len(args) == 1 {
		d, err := time.ParseDuration(args[0])
		ts.Check(err)
		timeout = d
	}
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		err := try(client)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("not ready within %s: %v", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// flowMarker is set, to the flow's work directory, in the environment of
// every process a flow starts, so that those a doc leaves running (a
// testnet's nodes, a Vault or signer started with "&" in a command) are
// found when the flow ends, passed or failed.
const flowMarker = "DSTT_DOCTEST_WORK"

// stopFlowProcesses kills the processes that carry work as flowMarker
// (found through /proc; nothing is found elsewhere).
func stopFlowProcesses(work string) {
	procs, _ := filepath.Glob("/proc/[0-9]*/environ")
	mark := []byte("\x00" + flowMarker + "=" + work + "\x00")
	for _, p := range procs {
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(append([]byte{0}, data...), mark) {
			continue
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p))); err == nil && pid != os.Getpid() {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}
