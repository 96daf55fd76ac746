package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/consensus"
)

// runStart runs `dstt start` to completion (it is expected to refuse) and
// returns its output and exit code.
func runStart(t *testing.T, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, dsttBinary(t), append([]string{"start"}, args...)...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(out), ee.ExitCode()
	}
	if err != nil {
		t.Fatalf("start: %v\n%s", err, out)
	}
	return string(out), 0
}

// TestStartRefusesPublicRPC: with access control on (the dev chain's
// genesis names the dev key admin), `dstt start` refuses an RPC listening
// beyond loopback: a clear error, exit code 3, nothing listening. With
// --unsafe-public-rpc it starts, warns loudly and records it in the node
// security log.
func TestStartRefusesPublicRPC(t *testing.T) {
	n := newDevNode(t)
	n.rpc = fmt.Sprintf("tcp://0.0.0.0:%d", freePort(t))
	args := []string{"--dev", "--home", n.home, "--rpc-laddr", n.rpc, "--p2p-laddr", n.p2p, "--rest-laddr", n.rest, "--log-level", "error", "--comet-log-level", "none"}
	out, code := runStart(t, args...)
	if code != exitPublicRPC || !strings.Contains(out, "rpc.laddr="+n.rpc) || !strings.Contains(out, "--unsafe-public-rpc") {
		t.Fatalf("public RPC with access control: exit %d\n%s", code, out)
	}
	t.Logf("refused:\n%s", out)
	if c, err := net.DialTimeout("tcp", strings.TrimPrefix(strings.Replace(n.rpc, "0.0.0.0", "127.0.0.1", 1), "tcp://"), time.Second); err == nil {
		c.Close()
		t.Fatal("a refused node listens on its RPC port")
	}

	// Opting in: a loud warning, and a record in the node security log.
	n.cmd = exec.Command(n.bin, append([]string{"start", "--unsafe-public-rpc"}, args...)...)
	n.logs = &lockedBuffer{}
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.rpc = strings.Replace(n.rpc, "0.0.0.0", "127.0.0.1", 1)
	n.waitRPC()
	if !strings.Contains(n.logs.String(), "WARNING: --unsafe-public-rpc") {
		t.Fatalf("no warning:\n%s", n.logs)
	}
	n.stop()
	es, err := audit.ReadNodeLogFile(filepath.Join(n.home, "data", "audit", "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range es {
		found = found || e.Action == "unsafe_public_rpc" && strings.Contains(strings.Join(e.Resources, " "), "rpc.laddr=tcp://0.0.0.0:")
	}
	if !found {
		t.Fatalf("no unsafe_public_rpc record in the node log (%d entries)", len(es))
	}
}

// TestRPCIsLoopbackAndCLIUsesREST: by default CometBFT's RPC is bound to
// 127.0.0.1 (not reachable on the host's other addresses), the CLI talks
// to the REST gateway without being told (its RPC address may be dead),
// and only asks for the RPC on request. CometBFT's tx indexer is off
// (dstt answers by hash from its own records), and no event attribute is
// marked for indexing, for an operator who turns it on.
func TestRPCIsLoopbackAndCLIUsesREST(t *testing.T) {
	// A fresh home: the RPC default is loopback.
	home := t.TempDir()
	out, errs, code := (&devNode{t: t, bin: dsttBinary(t), home: home}).cli("", "init", "--admin", strings.Repeat("ab", 20))
	if code != 0 {
		t.Fatalf("init: %s %s", out, errs)
	}
	h, err := consensus.OpenHome(home)
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.Config()
	if err != nil || c.RPC.ListenAddress != "tcp://127.0.0.1:26657" || len(consensus.PublicRPCListeners(c)) != 0 {
		t.Fatalf("default rpc.laddr %q, %v", c.RPC.ListenAddress, err)
	}

	n := newDevNode(t)
	n.start()
	// Bound to 127.0.0.1 only: another address of this host is refused.
	port := strings.TrimPrefix(n.rpc, "tcp://127.0.0.1:")
	if ip := nonLoopbackIP(); ip != nil {
		if c, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), port), time.Second); err == nil {
			c.Close()
			t.Fatalf("RPC answers on %s", ip)
		}
	}

	// The CLI's default transport is the gateway: point its RPC address at
	// a dead port and everything still works.
	cc, err := loadClientConfig(n.home)
	if err != nil || cc.REST != "http://"+n.rest {
		t.Fatalf("client.json %+v, %v", cc, err)
	}
	cc.RPC = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	if err := saveClientConfig(n.home, cc); err != nil {
		t.Fatal(err)
	}
	put, code := n.cliJSON("", "tx", "put", "secret/pin", "1234")
	if code != 0 {
		t.Fatalf("put over the default transport: %v", put)
	}
	if get, code := n.cliJSON("", "query", "get", "secret/pin"); code != 0 || get["value"] != "1234" {
		t.Fatalf("get over the default transport: %v", get)
	}
	if _, errs, code := n.cli("", "query", "get", "secret/pin", "--transport", "rpc"); code == 0 || !strings.Contains(errs, cc.RPC) {
		t.Fatalf("--transport rpc to a dead RPC: exit %d %s", code, errs)
	}
	// An explicit tcp:// --node still works (the RPC, on loopback).
	if get, code := n.cliJSON("", "query", "get", "secret/pin", "--node", n.rpc); code != 0 || get["value"] != "1234" {
		t.Fatalf("get --node %s: %v", n.rpc, get)
	}

	// CometBFT's tx index is off: /tx_search refuses every query, by key,
	// signer or code alike, while dstt's own lookup by hash answers.
	rc, err := rpchttp.New(n.rpc, "/websocket")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, q := range []string{"dstt_write.key='secret/pin'", "dstt_write.key EXISTS", "dstt_tx.code='OK'"} {
		res, err := rc.TxSearch(ctx, q, false, nil, nil, "")
		if err == nil || !strings.Contains(err.Error(), "indexing is disabled") {
			t.Fatalf("tx_search %q with the indexer off: %+v, %v", q, res, err)
		}
	}
	if tx, code := n.cliJSON("", "query", "tx", put["hash"].(string)); code != 0 || tx["code_name"] != "OK" {
		t.Fatalf("query tx %v: %v", put["hash"], tx)
	}
	h64 := int64(put["height"].(float64))
	br, err := rc.BlockResults(ctx, &h64)
	if err != nil || len(br.TxsResults) == 0 {
		t.Fatalf("block_results: %v", err)
	}
	for _, r := range br.TxsResults {
		for _, ev := range r.Events {
			for _, a := range ev.Attributes {
				if a.Index {
					t.Fatalf("indexed attribute %s.%s", ev.Type, a.Key)
				}
			}
		}
	}
	n.stop()
}

func nonLoopbackIP() net.IP {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
			return ipn.IP
		}
	}
	return nil
}

// TestStartRefusesTruncatedNodeLog: a node log cut back (here: deleted
// while its high-water mark stays) stops `dstt start` with exit code 4 and
// the flag to use; with --accept-truncated-node-log the node starts, the
// sequence goes on above the old high-water mark, and the event is in the
// node log.
func TestStartRefusesTruncatedNodeLog(t *testing.T) {
	n := newDevNode(t)
	n.start()
	n.stop()
	logPath := filepath.Join(n.home, "data", "audit", "node.log")
	before, err := audit.ReadNodeLogFile(logPath)
	if err != nil || len(before) < 3 {
		t.Fatalf("node log: %d entries, %v", len(before), err)
	}
	high := before[len(before)-1].Seq
	// Cut the log back to its header plus nothing: as if truncated.
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, b[:len("dstt-audit-node-v1\n")], 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--home", n.home, "--rest-laddr", n.rest, "--log-level", "error", "--comet-log-level", "none"}
	out, code := runStart(t, args...)
	if code != exitNodeLogTruncated || !strings.Contains(out, "--accept-truncated-node-log") || !strings.Contains(out, fmt.Sprintf("up to seq %d", high)) {
		t.Fatalf("truncated node log: exit %d\n%s", code, out)
	}
	t.Logf("refused:\n%s", out)

	n.cmd = exec.Command(n.bin, append([]string{"start", "--accept-truncated-node-log"}, args...)...)
	n.logs = &lockedBuffer{}
	n.cmd.Stdout, n.cmd.Stderr = n.logs, n.logs
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n.waitRPC()
	n.stop()
	if !strings.Contains(n.logs.String(), "WARNING: --accept-truncated-node-log") {
		t.Fatalf("no warning:\n%s", n.logs)
	}
	after, err := audit.ReadNodeLogFile(logPath)
	if err != nil || len(after) == 0 {
		t.Fatalf("node log after: %d, %v", len(after), err)
	}
	first := after[0]
	if first.Kind != audit.KindNodeLogTruncated || first.Seq != high+1 {
		t.Fatalf("first entry after recovery: seq %d kind %s, want seq %d %s", first.Seq, first.Kind, high+1, audit.KindNodeLogTruncated)
	}
	for _, e := range after {
		if e.Seq <= high {
			t.Fatalf("seq %d reused", e.Seq)
		}
	}
	// The log verifies, gap and all, with the node's key.
	out, errs, code := n.cli("", "audit", "verify", "--chain", "node", "-o", "json")
	var rep map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || rep["ok"] != true || fmt.Sprint(rep["gaps"]) != fmt.Sprintf("[seqs 1..%d lost (log kept 0:, resumed after %d:%X)]", high, high, before[len(before)-1].Hash) {
		t.Fatalf("audit verify --chain node: exit %d %s %s", code, out, errs)
	}
}
