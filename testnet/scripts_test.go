package testnet_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/dstt/dstt/testnet"
)

// scriptRunner runs the testnet scripts against the network in dir with the
// dstt binary bin; run returns a script's combined output and exit code.
func scriptRunner(t *testing.T, dir, bin string) (run func(script string, args ...string) (string, int)) {
	env := append(os.Environ(), "TESTNET_DIR="+dir, "DSTT_BIN="+bin, "WAIT=90s")
	return func(script string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command("bash", append([]string{filepath.Join(".", script)}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
}

// TestScripts drives the testnet scripts as docs/TESTNET.md does: up (init + start),
// the README's commands against different nodes, status, kill, restart, logs, down;
// and checks that no process they started survives down.
func TestScripts(t *testing.T) {
	bin := dsttBinary(t)
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	dir := filepath.Join(t.TempDir(), "net")
	run := scriptRunner(t, dir, bin)
	pids := func() map[string]int {
		out := map[string]int{}
		for _, name := range []string{"node1", "node2", "node3"} {
			data, err := os.ReadFile(filepath.Join(dir, name, testnet.PIDFile))
			if err != nil {
				continue
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			out[name] = pid
		}
		return out
	}
	alive := func(pid int) bool { return pid > 0 && syscall.Kill(pid, 0) == nil }
	var started []int
	t.Cleanup(func() {
		run("down.sh")
		for _, pid := range started { // belt and braces: nothing may outlive the test
			if alive(pid) {
				t.Errorf("pid %d still alive after down.sh", pid)
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})

	// up: init (on a free port range) and start.
	var out string
	for attempt := 0; ; attempt++ {
		base := 20000 + 10*rand.IntN(1200) // below the ephemeral range, as in newCluster
		var code int
		out, code = run("up.sh", "--validators", "3", "--base-port", strconv.Itoa(base))
		if code == 0 {
			break
		}
		if !strings.Contains(out, "port in use") || attempt == 10 {
			t.Fatalf("up.sh: exit %d\n%s", code, out)
		}
	}
	if !strings.Contains(out, "all answering nodes agree") {
		t.Fatalf("up.sh did not end with an agreeing status:\n%s", out)
	}
	for name, pid := range pids() {
		if !alive(pid) {
			t.Fatalf("%s: pid %d from its pid file is not running", name, pid)
		}
		started = append(started, pid)
	}
	if len(started) != 3 {
		t.Fatalf("pid files: %v", pids())
	}

	// The README's commands, against two different nodes.
	dstt := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		o, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(o), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(o), 0
	}
	if o, code := dstt("--home", filepath.Join(dir, "node2"), "tx", "put", "greeting", "hello"); code != 0 {
		t.Fatalf("tx put via node2: %s", o)
	}
	if o, code := dstt("--home", filepath.Join(dir, "node3"), "query", "get", "greeting"); code != 0 || !strings.Contains(o, "hello") {
		t.Fatalf("query get via node3: exit %d %s", code, o)
	}

	// status -o json: three nodes, one height.
	o, code := run("status.sh", "-o", "json")
	var st struct {
		Nodes []testnet.NodeStatus `json:"nodes"`
		Agree bool                 `json:"agree"`
	}
	if code != 0 || json.Unmarshal([]byte(o), &st) != nil || len(st.Nodes) != 3 || !st.Agree {
		t.Fatalf("status.sh -o json: exit %d %s", code, o)
	}

	// kill: SIGKILL, the pid file stays and status calls the node dead.
	victim := pids()["node2"]
	if o, code := run("kill.sh", "2"); code != 0 || alive(victim) {
		t.Fatalf("kill.sh 2: exit %d, pid %d alive %v: %s", code, victim, alive(victim), o)
	}
	if o, _ := run("status.sh"); !strings.Contains(o, fmt.Sprintf("dead (%d)", victim)) {
		t.Fatalf("status after kill does not show node2 dead:\n%s", o)
	}
	// With node2 down, 2 of 3 validators (20 of 30) are no quorum: status
	// says the chain is halted and exits 1.
	o, code = run("status.sh")
	if code != 1 || !strings.Contains(o, "quorum: 20 of 30 voting power online (2 of 3 validators), more than 2/3 (21): NO") || !strings.Contains(o, "HALTED: ") {
		t.Fatalf("status with 2 of 3 validators: exit %d\n%s", code, o)
	}
	// restart: running again and caught up with the height the others had.
	o, _ = run("status.sh", "-o", "json") // the JSON, then "Error: ...chain halted"
	st.Nodes = nil
	if err := json.NewDecoder(strings.NewReader(o)).Decode(&st); err != nil {
		t.Fatalf("%v\n%s", err, o)
	}
	var before int64
	for _, s := range st.Nodes {
		before = max(before, s.Height)
	}
	if o, code := run("restart.sh", "node2"); code != 0 || !strings.Contains(o, "all answering nodes agree") ||
		!strings.Contains(o, "quorum: 30 of 30 voting power online") {
		t.Fatalf("restart.sh node2: exit %d\n%s", code, o)
	}
	o, _ = run("status.sh", "-o", "json")
	st.Nodes = nil
	if err := json.Unmarshal([]byte(o), &st); err != nil || len(st.Nodes) != 3 || st.Nodes[1].Height < before {
		t.Fatalf("node2 after restart.sh is behind height %d: %v\n%s", before, err, o)
	}
	p := pids()["node2"]
	if !alive(p) || p == victim {
		t.Fatalf("node2 after restart: pid %d", p)
	}
	started = append(started, p)
	if o, code := dstt("--home", filepath.Join(dir, "node2"), "tx", "put", "after", "restart"); code != 0 {
		t.Fatalf("tx via the restarted node2: %s", o)
	}
	if o, code := run("logs.sh", "node2", "-n", "5"); code != 0 || o == "" {
		t.Fatalf("logs.sh: exit %d %q", code, o)
	}
	if _, code := run("logs.sh", "node9"); code == 0 {
		t.Fatal("logs.sh for a missing node succeeded")
	}

	// down: every process gone, no pid files.
	if o, code := run("down.sh"); code != 0 {
		t.Fatalf("down.sh: exit %d %s", code, o)
	}
	for _, pid := range started {
		if alive(pid) {
			t.Errorf("pid %d alive after down.sh", pid)
		}
	}
	if left := pids(); len(left) != 0 {
		t.Errorf("pid files left after down.sh: %v", left)
	}
	// down --purge deletes the testnet.
	if o, code := run("down.sh", "--purge"); code != 0 {
		t.Fatalf("down.sh --purge: %s", o)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after --purge", dir)
	}
}
