package testnet_test

// The harness for the end-to-end tests: real dstt processes on a generated testnet,
// a load generator, and waits on conditions with deadlines.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/testnet"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/client/cometrpc"
	"github.com/dstt/dstt/types"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// removeBinaries removes the dstt binaries dsttBinary and skewedBinary
// built, each in its own temporary directory (TestMain).
func removeBinaries() {
	for _, b := range []string{binPath, skewBin} {
		if b != "" {
			_ = os.RemoveAll(filepath.Dir(b))
		}
	}
}

// dsttBinary builds cmd/dstt once per test binary. Tests that need it are skipped with
// -short.
func dsttBinary(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds dstt and runs a multi-process network; skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dstt-testnet-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "dstt")
		// GOFLAGS (-tags=pebbledb from the Makefile) comes through the environment.
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race") // a race in a node fails its test
		}
		out, err := exec.Command("go", append(args, "../cmd/dstt")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// cluster is a generated testnet whose nodes run as child processes of the test.
type cluster struct {
	bin     string
	nodeBin map[string]string // a node's own binary instead of bin (TestClockSkew)
	nw      *testnet.Network

	mu    sync.Mutex
	procs map[string]*exec.Cmd
	up    map[string]bool // running and caught up: the load may use it
	rr    int
}

// newCluster generates a testnet of n validators in a temp dir, on a random free port
// range, and stops every node it started when the test ends.
func newCluster(tb testing.TB, transport string, n int, extraInit ...string) *cluster {
	tb.Helper()
	bin := dsttBinary(tb)
	dir := filepath.Join(tb.TempDir(), "net")
	var lastErr string
	for attempt := 0; ; attempt++ {
		if attempt == 20 {
			tb.Fatalf("no free port range for the testnet after 20 tries: %s", lastErr)
		}
		// Below the kernel's ephemeral range (32768+), so no outgoing connection of
		// another test can take a port between the check and the listen.
		base := 20000 + 10*rand.IntN(1200) // 20000..31990
		args := append([]string{"testnet", "init", "--dir", dir, "--validators", fmt.Sprint(n),
			"--transport", transport, "--base-port", fmt.Sprint(base), "-o", "json"}, extraInit...)
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err == nil {
			break
		}
		lastErr = string(out)
		if !strings.Contains(lastErr, "port in use") {
			tb.Fatalf("dstt %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	nw, err := testnet.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	c := &cluster{bin: bin, nw: nw, procs: map[string]*exec.Cmd{}, up: map[string]bool{}}
	tb.Cleanup(func() { c.stopAll(tb) })
	return c
}

// network is the current manifest (addNode replaces it).
func (c *cluster) network() *testnet.Network {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nw
}

// addNode runs `dstt testnet add-node` (a full node for a new org) with extra
// flags and reloads the manifest; it returns the new node.
func (c *cluster) addNode(tb testing.TB, extra ...string) testnet.Node {
	tb.Helper()
	dir := c.network().Dir
	if out, errs, code := c.cli(tb, append([]string{"testnet", "add-node", "--dir", dir}, extra...)...); code != 0 {
		tb.Fatalf("dstt testnet add-node: exit %d: %s %s", code, out, errs)
	}
	nw, err := testnet.Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	c.mu.Lock()
	c.nw = nw
	c.mu.Unlock()
	return nw.Nodes[len(nw.Nodes)-1]
}

func (c *cluster) names() []string {
	var out []string
	for _, n := range c.network().Nodes {
		out = append(out, n.Name)
	}
	return out
}

func (c *cluster) node(tb testing.TB, name string) testnet.Node {
	tb.Helper()
	n, err := c.network().Node(name)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// start launches a node's process (output appended to HOME/dstt.log, its pid in
// HOME/dstt.pid as the scripts keep it), with extra arguments to dstt start. It
// does not wait: see waitReady.
func (c *cluster) start(tb testing.TB, name string, extra ...string) {
	tb.Helper()
	n := c.node(tb, name)
	logf, err := os.OpenFile(filepath.Join(n.Home, testnet.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "=== %s starting %s\n", time.Now().UTC().Format(time.RFC3339Nano), name)
	// The manifest's start command: the node's own REST gateway and metrics
	// addresses, as the scripts pass them.
	bin := c.bin
	if b := c.nodeBin[name]; b != "" {
		bin = b
	}
	argv := append(n.Command(bin), "--log-level", "error", "--comet-log-level", "error") // in its namespace, if any
	argv = append(argv, extra...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(n.Home, testnet.PIDFile), []byte(fmt.Sprint(cmd.Process.Pid)), 0o644)
	c.mu.Lock()
	c.procs[name] = cmd
	c.mu.Unlock()
}

// startAll starts every node and waits until all are peered with each other and caught up.
func (c *cluster) startAll(tb testing.TB) {
	tb.Helper()
	t0 := time.Now()
	for _, name := range c.names() {
		c.start(tb, name)
	}
	c.waitReady(tb, 90*time.Second, c.names()...)
	tb.Logf("%d nodes (%s) up, peered and caught up in %s", len(c.nw.Nodes), c.nw.Transport, time.Since(t0).Round(time.Millisecond))
}

// kill sends SIGKILL (no clean shutdown) and reaps the process. The load stops using
// the node first.
func (c *cluster) kill(tb testing.TB, name string) {
	tb.Helper()
	c.mu.Lock()
	cmd := c.procs[name]
	delete(c.procs, name)
	delete(c.up, name)
	c.mu.Unlock()
	if cmd == nil {
		tb.Fatalf("kill %s: not running", name)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

// stopAll stops every running node (SIGTERM, SIGKILL after 15s). On failure it prints
// the end of every node's log.
func (c *cluster) stopAll(tb testing.TB) {
	t0 := time.Now()
	c.mu.Lock()
	procs := c.procs
	c.procs = map[string]*exec.Cmd{}
	c.up = map[string]bool{}
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, cmd := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			terminate(cmd)
		}()
	}
	wg.Wait()
	tb.Logf("stopped %d nodes in %s", len(procs), time.Since(t0).Round(time.Millisecond))
	if tb.Failed() {
		for _, n := range c.network().Nodes {
			data, _ := os.ReadFile(filepath.Join(n.Home, testnet.LogFile))
			lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
			tb.Logf("--- %s log (last lines) ---\n%s", n.Name, strings.Join(lines[max(0, len(lines)-25):], "\n"))
		}
	}
}

// terminate stops a node's process: SIGTERM, SIGKILL after 15s; it reaps it.
func terminate(cmd *exec.Cmd) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// waitReady waits until each named node answers RPC, is not catching up, is peered
// with every other running node and serves its REST gateway on its own address;
// then the load may use it.
func (c *cluster) waitReady(tb testing.TB, d time.Duration, names ...string) {
	tb.Helper()
	waitUntil(tb, d, fmt.Sprintf("nodes %v ready", names), func() (bool, string) {
		c.mu.Lock()
		running := len(c.procs)
		c.mu.Unlock()
		st := c.statuses()
		var pending []string
		for _, name := range names {
			s := st[name]
			if !s.Ready() || s.Peers < running-1 || !s.RESTUp {
				pending = append(pending, fmt.Sprintf("%s(err=%q catching_up=%v peers=%d/%d h=%d rest %s up=%v)", name, s.Error, s.CatchingUp, s.Peers, running-1, s.Height, s.REST, s.RESTUp))
			}
		}
		return len(pending) == 0, strings.Join(pending, " ")
	})
	c.mu.Lock()
	for _, name := range names {
		c.up[name] = true
	}
	c.mu.Unlock()
}

func (c *cluster) statuses() map[string]testnet.NodeStatus {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	out := map[string]testnet.NodeStatus{}
	for _, s := range testnet.Status(ctx, c.network()) {
		out[s.Name] = s
	}
	return out
}

// heights returns the latest height of each named node (-1 if it does not answer).
func (c *cluster) heights(names ...string) map[string]int64 {
	st := c.statuses()
	out := map[string]int64{}
	for _, name := range names {
		if s := st[name]; s.Reachable() {
			out[name] = s.Height
		} else {
			out[name] = -1
		}
	}
	return out
}

func maxHeight(hs map[string]int64) int64 {
	var m int64 = -1
	for _, h := range hs {
		m = max(m, h)
	}
	return m
}

func (c *cluster) rpc(tb testing.TB, name string) *rpchttp.HTTP {
	tb.Helper()
	r, err := rpchttp.New(c.node(tb, name).RPC, "/websocket")
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// pickUp returns a node the load may use, round robin; "" if none.
func (c *cluster) pickUp() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var up []string
	for _, n := range c.nw.Nodes { // c.mu is held
		if c.up[n.Name] {
			up = append(up, n.Name)
		}
	}
	if len(up) == 0 {
		return ""
	}
	c.rr++
	return up[c.rr%len(up)]
}

// checkAgreement waits until every named node is at the same height with the same app
// hash (the load has stopped, so the chain goes quiet), then compares the block hash of
// every height from 1 on all of them: one chain, no fork.
func (c *cluster) checkAgreement(tb testing.TB, names ...string) int64 {
	tb.Helper()
	return c.checkAgreementFrom(tb, 1, names...)
}

// checkAgreementFrom is checkAgreement for the blocks from height from on (a node
// restored at a height holds none below it).
func (c *cluster) checkAgreementFrom(tb testing.TB, from int64, names ...string) int64 {
	tb.Helper()
	var h int64
	waitUntil(tb, 60*time.Second, "all nodes at one height and app hash", func() (bool, string) {
		st := c.statuses()
		heights := map[int64]bool{}
		apps := map[string]bool{}
		var desc []string
		for _, name := range names {
			s := st[name]
			desc = append(desc, fmt.Sprintf("%s:h=%d app=%.8s err=%q", name, s.Height, s.AppHash, s.Error))
			if !s.Reachable() {
				return false, strings.Join(desc, " ")
			}
			heights[s.Height] = true
			apps[s.AppHash] = true
			h = s.Height
		}
		return len(heights) == 1 && len(apps) == 1, strings.Join(desc, " ")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var ref []string
	for i, name := range names {
		hashes := blockHashesFrom(tb, ctx, c.rpc(tb, name), from, h)
		if i == 0 {
			ref = hashes
			continue
		}
		for j := range hashes {
			if hashes[j] != ref[j] {
				tb.Fatalf("fork: block %d is %s on %s but %s on %s", from+int64(j), ref[j], names[0], hashes[j], name)
			}
		}
	}
	c.checkAuditChains(tb, ctx, h-1, names...)
	return h
}

// checkAuditChains: every node holds the same consensus audit chain head
// after block h, and that head is proved by the validators' signatures on
// block h+1 (audit.VerifyAgainstCommit, as `dstt audit verify` does).
func (c *cluster) checkAuditChains(tb testing.TB, ctx context.Context, h int64, names ...string) {
	tb.Helper()
	if h < 1 {
		return
	}
	var ref audit.HeadResponse
	for i, name := range names {
		r := c.rpc(tb, name)
		head, err := audit.NewRPCSource(r).HeadAt(ctx, h)
		if err != nil {
			tb.Fatalf("%s: audit head at %d: %v", name, h, err)
		}
		if i == 0 {
			ref = head
			st, err := r.Status(ctx)
			if err != nil {
				tb.Fatal(err)
			}
			anchor, err := audit.VerifyAgainstCommit(ctx, audit.NewRPCCommitFetcher(r), st.NodeInfo.Network, head, audit.CommitOptions{})
			if err != nil {
				tb.Fatalf("%s: audit head at %d does not verify against the signed commit: %v", name, h, err)
			}
			tb.Logf("audit head %s after block %d proved by %d validators' commit of block %d", anchor.Head, h, anchor.Validators, anchor.SignedHeight)
			continue
		}
		if !head.Head.Equal(ref.Head) || string(head.StateHash) != string(ref.StateHash) {
			tb.Fatalf("audit chains differ after block %d: %s has %s, %s has %s", h, names[0], ref.Head, name, head.Head)
		}
	}
}

// blockHashes returns the block hashes of heights 1..h (index i is height i+1), read
// 20 at a time with /blockchain.
func blockHashes(tb testing.TB, ctx context.Context, r *rpchttp.HTTP, h int64) []string {
	tb.Helper()
	return blockHashesFrom(tb, ctx, r, 1, h)
}

// blockHashesFrom returns the block hashes of heights from..h (index i is height from+i).
func blockHashesFrom(tb testing.TB, ctx context.Context, r *rpchttp.HTTP, from, h int64) []string {
	tb.Helper()
	out := make([]string, h-from+1)
	for lo := from; lo <= h; lo += 20 {
		hi := min(lo+19, h)
		res, err := r.BlockchainInfo(ctx, lo, hi)
		if err != nil {
			tb.Fatalf("blockchain %d-%d: %v", lo, hi, err)
		}
		for _, m := range res.BlockMetas {
			out[m.Header.Height-from] = m.BlockID.Hash.String()
		}
	}
	for i, hash := range out {
		if hash == "" {
			tb.Fatalf("no block meta for height %d", from+int64(i))
		}
	}
	return out
}

// waitUntil polls cond every 100ms until it holds; it fails the test after d with the
// condition's last description.
func waitUntil(tb testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, desc := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("waited %s for %s; last: %s", d, what, desc)
		}
		<-tick.C
	}
}

// holdsFor checks cond every 100ms for the whole of d (an observation window: the
// thing under test is that nothing happens) and fails the test the first time it is false.
func holdsFor(tb testing.TB, d time.Duration, what string, cond func() (bool, string)) {
	tb.Helper()
	end := time.Now().Add(d)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(end) {
		if ok, desc := cond(); !ok {
			tb.Fatalf("%s stopped holding: %s", what, desc)
		}
		<-tick.C
	}
}

// ack is a tx the network acknowledged as committed (broadcast_tx_commit, code 0).
type ack struct {
	key, value string
	height     int64
	node       string // the node it was submitted to
	sent       time.Time
	latency    time.Duration
}

// load submits signed puts from several workers, each waiting for its tx's commit
// before the next (closed loop), spread round robin over the nodes that are up.
type load struct {
	c      *cluster
	prefix string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	acks []ack
	errs int
	last error
}

func (c *cluster) startLoad(tb testing.TB, prefix string, workers int) *load {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{c: c, prefix: prefix, cancel: cancel}
	nodes := c.network().Nodes
	signers := make([]security.Signer, len(nodes))
	for i, n := range nodes {
		signers[i] = devSigner(tb, n.Home)
	}
	for w := range workers {
		l.wg.Add(1)
		go l.worker(ctx, w, signers[w%len(signers)])
	}
	tb.Cleanup(l.stop)
	return l
}

func (l *load) worker(ctx context.Context, w int, signer security.Signer) {
	defer l.wg.Done()
	clients := map[string]*client.Client{}
	for i := 0; ctx.Err() == nil; i++ {
		name := l.c.pickUp()
		if name == "" {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond): // every node is down: poll again
			}
			continue
		}
		cl := clients[name]
		if cl == nil {
			var err error
			nw := l.c.network()
			if cl, err = cometrpc.New(nw.Nodes[nodeIndex(nw, name)].RPC); err != nil {
				l.fail(err)
				continue
			}
			clients[name] = cl
		}
		k, v := fmt.Sprintf("%s/%d/%d", l.prefix, w, i), fmt.Sprintf("v%d-%d", w, i)
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		sent := time.Now()
		res, err := cl.Submit(sctx, putBody(k, v), signer)
		cancel()
		if err != nil {
			l.fail(err)
			// An unacknowledged tx (node killed under us, chain stalled): go on with a
			// fresh key; a short pause keeps a dead node from turning this into a spin.
			select {
			case <-ctx.Done():
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		l.mu.Lock()
		l.acks = append(l.acks, ack{key: k, value: v, height: res.Height, node: name, sent: sent, latency: time.Since(sent)})
		l.mu.Unlock()
	}
}

func (l *load) fail(err error) {
	l.mu.Lock()
	l.errs++
	if !errors.Is(err, context.Canceled) {
		l.last = err
	}
	l.mu.Unlock()
}

// stop stops the workers and waits for them; idempotent.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
}

func (l *load) snapshot() []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.acks)
}

// count is the number of acks matching keep (all if nil).
func (l *load) count(keep func(ack) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, a := range l.acks {
		if keep == nil || keep(a) {
			n++
		}
	}
	return n
}

func (l *load) describe() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprintf("%d acked, %d errors (last: %v)", len(l.acks), l.errs, l.last)
}

// latencies summarises the commit latency of the acks matching keep.
func latencies(acks []ack, keep func(ack) bool) (n int, p50, p95, p99, worst time.Duration) {
	var ds []time.Duration
	for _, a := range acks {
		if keep(a) {
			ds = append(ds, a.latency)
		}
	}
	if len(ds) == 0 {
		return 0, 0, 0, 0, 0
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
	return len(ds), q(0.50), q(0.95), q(0.99), ds[len(ds)-1]
}

func nodeIndex(nw *testnet.Network, name string) int {
	for i, n := range nw.Nodes {
		if n.Name == name {
			return i
		}
	}
	panic("no node " + name)
}

func devSigner(tb testing.TB, home string) security.Signer {
	tb.Helper()
	kr, err := keyring.Open(keyring.BackendTest, filepath.Join(home, "keyring"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	s, err := kr.Signer(testnet.AdminKeyName)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func putBody(k, v string) *types.TxBody {
	return &types.TxBody{Ops: []types.Op{{Sum: &types.Op_Put{Put: &types.Put{Key: k, Value: []byte(v)}}}}}
}

// ledger collects the acks of every load run on one network, for the final check that
// each is readable from every node.
type ledger struct {
	mu   sync.Mutex
	acks []ack
}

func (l *ledger) add(acks []ack) {
	l.mu.Lock()
	l.acks = append(l.acks, acks...)
	l.mu.Unlock()
}

func (l *ledger) all() []ack {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.acks)
}

// cli runs the dstt CLI; it returns stdout, stderr and the exit code.
func (c *cluster) cli(tb testing.TB, args ...string) (string, string, int) {
	tb.Helper()
	cmd := exec.Command(c.bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	case err != nil:
		tb.Fatal(err)
	}
	return out.String(), errb.String(), 0
}

// validators returns CometBFT's validator set at the latest height, as seen by node:
// address (upper-case hex) to voting power.
func (c *cluster) validators(tb testing.TB, node string) map[string]int64 {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	perPage := 100
	res, err := c.rpc(tb, node).Validators(ctx, nil, nil, &perPage)
	if err != nil {
		tb.Fatalf("%s /validators: %v", node, err)
	}
	out := map[string]int64{}
	for _, v := range res.Validators {
		out[v.Address.String()] = v.VotingPower
	}
	return out
}

// signedBy reports whether the commit of height h, as node has it, carries a
// signature from the validator with the given address.
func (c *cluster) signedBy(tb testing.TB, node string, h int64, address string) bool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.rpc(tb, node).Commit(ctx, &h)
	if err != nil {
		tb.Fatalf("%s /commit %d: %v", node, h, err)
	}
	for _, sig := range res.Commit.Signatures {
		if sig.ValidatorAddress.String() == address && sig.Signature != nil {
			return true
		}
	}
	return false
}

// checkStatus runs `dstt testnet status` and fails the test unless it exits
// with code and prints every one of want; a halted chain (code 1) shows no
// answering node as "ok".
func (c *cluster) checkStatus(tb testing.TB, code int, want ...string) {
	tb.Helper()
	out, errs, got := c.cli(tb, "testnet", "status", "--dir", c.network().Dir)
	bad := got != code
	for _, w := range want {
		bad = bad || !strings.Contains(out, w)
	}
	if code != 0 {
		bad = bad || strings.Contains(out, " ok\n") || !strings.Contains(errs, "chain halted")
	}
	if bad {
		tb.Fatalf("testnet status: exit %d, want %d and %q\n%s%s", got, code, want, out, errs)
	}
}
