package siemtest

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/format"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// What a scenario step did. Every audit entry a step leaves is labelled
// with it; the label, not the entry's content, says which rules must fire.
const (
	evBenign          = "benign"           // ordinary work and refusals no rule targets (conflict, wrong chain)
	evUnauthorizedTx  = "unauthorized_tx"  // a write the signer has no role for
	evReadDenied      = "read_denied"      // a signed read the reader may not make
	evReplay          = "replay"           // a committed tx sent again
	evKeyRotation     = "key_rotation"     // an identity rotates its key
	evRetiredKey      = "retired_key"      // the old key signs after the rotation
	evForgedSignature = "forged_signature" // a tx whose signature does not verify
	evPolicyChange    = "policy_change"    // roles granted, rules added
	evGovernance      = "governance"       // an org and a validator added (k-of-n)
	evMisbehaviour    = "misbehaviour"     // double-signing evidence in a block
	evAuditGap        = "audit_gap"        // the node log lost entries
	evParamsChange    = "params_change"    // retention and the snapshot interval changed (k-of-n)
	evAuditAnchor     = "audit_anchor"     // the audit chain anchored, then pruned below the anchor (k-of-n)
)

// labels lists every step label; each must label at least one entry.
var labels = []string{evBenign, evUnauthorizedTx, evReadDenied, evReplay, evKeyRotation,
	evRetiredKey, evForgedSignature, evPolicyChange, evGovernance, evMisbehaviour, evAuditGap,
	evParamsChange, evAuditAnchor}

// event is one generated audit entry and the step that caused it.
type event struct {
	label string
	chain string      // "consensus" or "node"
	line  []byte      // the native JSON line, as `dstt audit export --format json` writes it
	entry audit.Entry // the same entry, decoded from line
}

// tracked is a chain the collector reads new entries from.
type tracked struct {
	chain string
	src   audit.Source
	sync  func() error // makes recorded entries readable (node log), or nil
	next  uint64       // first seq not yet collected
}

// collector labels the entries each step adds to the chains it watches.
type collector struct {
	t      *testing.T
	json   format.Formatter
	events []event
}

// take exports, in the native JSON format, every entry added to srcs since
// the last take and labels it.
func (c *collector) take(label string, srcs ...*tracked) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, s := range srcs {
		if s.sync != nil {
			if err := s.sync(); err != nil {
				c.t.Fatal(err)
			}
		}
		var buf bytes.Buffer
		if _, err := format.Export(ctx, s.src, max(s.next, 1), 0, c.json, &buf); err != nil {
			c.t.Fatalf("%s: export the %s chain: %v", label, s.chain, err)
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			var e audit.Entry
			if err := json.Unmarshal(line, &e); err != nil {
				c.t.Fatalf("%s: %v in %s", label, err, line)
			}
			c.events = append(c.events, event{label: label, chain: s.chain, line: line, entry: e})
			s.next = e.Seq + 1
		}
	}
}

// noRefusedRead fails the test if the step labelled label left a refused
// read: answering a replay, the gateway reads the committed tx through the
// node's own read side, not as an anonymous client whose /tx query the
// node would refuse and record as auth_failed.
func (c *collector) noRefusedRead(label string) {
	c.t.Helper()
	for _, e := range c.events {
		if e.label == label && e.entry.Kind == audit.KindAuthFailed {
			c.t.Errorf("%s left a refused read (a false read_denied alert): %s", label, e.line)
		}
	}
}

var (
	generateOnce sync.Once
	generatedEvs []event
	generateErr  string
)

// generated runs every scenario once per test binary and returns the
// labelled entries.
func generated(t *testing.T) []event {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real CometBFT node")
	}
	generateOnce.Do(func() {
		f, err := format.New(format.JSON, format.Options{})
		if err != nil {
			t.Fatal(err)
		}
		c := &collector{t: t, json: f}
		defer func() {
			if t.Failed() {
				generateErr = "the scenarios failed in " + t.Name()
			}
		}()
		nodeScenarios(t, c)
		engineScenarios(t, c)
		truncationScenario(t, c)
		generatedEvs = c.events
	})
	if generateErr != "" {
		t.Fatal(generateErr)
	}
	return generatedEvs
}

func put(k, v string) types.Op { return typestest.Put(k, v) }

func wantCode(t *testing.T, what string, err error, want types.Code) {
	t.Helper()
	var txErr *client.TxError
	if !errors.As(err, &txErr) || txErr.Code != want {
		t.Fatalf("%s: want %s, got %v", what, want.Name(), err)
	}
}

func newKey(t *testing.T) *security.LocalSigner {
	t.Helper()
	k, err := security.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func restClient(t *testing.T, n *testnode.Node, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.NewREST(n.URL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// nodeScenarios drives a real node with access control through the REST
// gateway: the node chain records admission refusals and refused reads,
// the consensus chain the committed txs.
func nodeScenarios(t *testing.T, c *collector) {
	n := testnode.Start(t, testnode.Options{RBAC: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cons := &tracked{chain: "consensus", src: audit.NewRPCSource(n.Node.Client()).SignWith(n.ChainID, n.Admin)}
	node := &tracked{chain: "node", src: n.NodeLog, sync: n.NodeLog.Sync}
	c.take(evBenign, cons, node) // config_loaded, node_started

	alice, alice2, bob := newKey(t), newKey(t), newKey(t)
	admin := n.AdminClient(t)
	defer admin.Close()
	writer := typestest.Policy(rbac.Rule{Subject: "writer", Domain: "*", Object: "acct/*", Action: "write"}, false)
	if _, err := admin.SubmitOps(ctx, writer, typestest.Grant(types.Address(alice.PubKey()), "writer", "*")); err != nil {
		t.Fatal(err)
	}
	c.take(evPolicyChange, cons, node)

	ac := restClient(t, n, client.WithSigner(alice), client.WithReader(alice))
	w1, err := ac.Sign(ctx, &types.TxBody{Ops: []types.Op{put("acct/1", "100")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ac.BroadcastCommit(ctx, w1); err != nil {
		t.Fatal(err)
	}
	// A tx for another chain: the gateway refuses it before admission,
	// CometBFT's RPC hands it to CheckTx; both record it (no rule: a
	// client's mistake more often than an attack).
	wrongChain := typestest.SignTx(t, &types.TxBody{ChainId: "other-chain", Nonce: 1, ValidUntilHeight: 10, Ops: []types.Op{put("acct/1", "1")}}, alice)
	if res, err := n.Node.Client().BroadcastTxSync(ctx, wrongChain); err != nil || res.Code != uint32(types.CodeWrongChain) {
		t.Fatalf("a tx for another chain over RPC: %+v, %v", res, err)
	}
	_, err = ac.BroadcastCommit(ctx, wrongChain)
	wantCode(t, "a tx for another chain through the gateway", err, types.CodeWrongChain)
	c.take(evBenign, cons, node)

	// A forged signature, twice: the gateway refuses both before
	// admission and records the first (the second goes into a summary
	// at the end of the minute).
	forged := bytes.Clone(w1)
	forged[len(forged)-1] ^= 1 // the last byte of its signature
	for range 2 {
		_, err = ac.BroadcastCommit(ctx, forged)
		wantCode(t, "a forged signature", err, types.CodeBadSignature)
	}
	c.take(evForgedSignature, cons, node)

	bc := restClient(t, n, client.WithSigner(bob), client.WithReader(bob))
	_, err = bc.SubmitOps(ctx, put("acct/1", "0"))
	wantCode(t, "bob's write", err, types.CodeUnauthorized)
	c.take(evUnauthorizedTx, cons, node)

	if _, _, err := bc.Get(ctx, "acct/1", 0); err == nil {
		t.Fatal("bob read acct/1 without a grant")
	}
	c.take(evReadDenied, cons, node)

	_, err = ac.BroadcastCommit(ctx, w1)
	wantCode(t, "replay", err, types.CodeReplay)
	c.take(evReplay, cons, node)
	c.noRefusedRead(evReplay)

	if _, err := ac.RotateKey(ctx, alice, alice2); err != nil {
		t.Fatal(err)
	}
	c.take(evKeyRotation, cons, node)

	_, err = ac.Submit(ctx, &types.TxBody{Ops: []types.Op{put("acct/1", "1")}}, alice)
	wantCode(t, "write signed by the retired key", err, types.CodeKeyRetired)
	c.take(evRetiredKey, cons, node)
}

// engineScenarios drives the block engine with blocks a real node would
// not build from its own mempool (CheckTx refuses their txs) but a faulty
// proposer can, plus governance with k-of-n approvals and misbehaviour
// evidence, which CometBFT hands the engine in a block.
func engineScenarios(t *testing.T, c *collector) {
	key, addr := typestest.Key, typestest.Addr
	g := engine.DefaultGenesisState()
	g.Admins = []string{addr("admin")}
	g.Threshold = 2
	var vals []engine.Validator
	for _, id := range []string{"1", "2", "3"} {
		pub := key("val" + id).PubKey()
		g.Orgs = append(g.Orgs, types.Org{ID: "org" + id, Admins: []string{addr("a" + id)}, Validators: []string{hex.EncodeToString(pub)}})
		vals = append(vals, engine.Validator{PubKey: pub, Power: 10})
	}
	state, err := json.Marshal(g)
	if err != nil {
		t.Fatal(err)
	}
	store := storage.NewInMemoryStore()
	e, err := engine.NewEngine(store, engine.NewCachedVerifier(1024))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.InitChain(typestest.Chain, state, vals...); err != nil {
		t.Fatal(err)
	}
	cons := &tracked{chain: "consensus", src: engine.NewAuditSource(store)}
	tx := func(signers []string, ops ...types.Op) []byte { return typestest.GovTx(t, e.Height(), ops, signers...) }
	run := func(evidence []engine.Misbehavior, txs ...[]byte) *engine.BlockResult {
		t.Helper()
		res, err := e.FinalizeBlock(engine.Block{Height: e.Height() + 1, Time: time.Unix(1_800_000_000+int64(e.Height()), 0), Txs: txs, Misbehavior: evidence})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Commit(); err != nil {
			t.Fatal(err)
		}
		return res
	}
	block := func(label string, evidence []engine.Misbehavior, txs ...[]byte) {
		t.Helper()
		res := run(evidence, txs...)
		for i, o := range res.Txs {
			t.Logf("engine %s tx %d: %s %s", label, i, o.Code.Name(), o.Log)
		}
		run(nil) // the proof block, which records the commit time the sinks' source waits for
		c.take(label, cons)
	}
	w := tx([]string{"admin"}, put("k", "v"))
	block(evBenign, nil, w)
	block(evBenign, nil, tx([]string{"admin"}, typestest.Check("k", types.Version{Height: 99})))
	block(evUnauthorizedTx, nil, tx([]string{"mallory"}, put("k", "x")))
	block(evReplay, nil, w)
	block(evPolicyChange, nil, tx([]string{"admin"}, typestest.Grant(addr("bob"), "writer", "*")))
	addOrg := types.Op{Sum: &types.Op_AddOrg{AddOrg: &types.AddOrg{Id: "org4", Admins: []string{addr("a4")}}}}
	block(evGovernance, nil, tx([]string{"a1", "a2"}, addOrg), tx([]string{"a1", "a2"}, typestest.AddValidator("val4", 1, "org1")))
	var evidence []engine.Misbehavior
	for i, typ := range []string{"duplicate_vote", "light_client_attack"} {
		val, err := hex.DecodeString(addr(fmt.Sprintf("val%d", i+1)))
		if err != nil {
			t.Fatal(err)
		}
		evidence = append(evidence, engine.Misbehavior{Type: typ, Validator: val, Height: e.Height()})
	}
	block(evMisbehaviour, evidence)

	gov := []string{"a1", "a2"}
	block(evParamsChange, nil,
		tx(gov, types.Op{Sum: &types.Op_SetRetention{SetRetention: &types.SetRetention{RetainHeights: 1000}}}),
		tx(gov, types.Op{Sum: &types.Op_SetSnapshotInterval{SetSnapshotInterval: &types.SetSnapshotInterval{SnapshotInterval: 100}}}))
	anchor := func(prune bool) []byte {
		head, err := cons.src.Head(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		op := &types.AuditAnchor{Seq: head.Seq, Hash: head.Hash}
		if prune {
			op.PruneBelow = head.Seq
		}
		return tx(gov, types.Op{Sum: &types.Op_AuditAnchor{AuditAnchor: op}})
	}
	block(evAuditAnchor, nil, anchor(false))
	block(evAuditAnchor, nil, anchor(true))
}

// truncationScenario deletes a node log and reopens it with the
// operator's consent (AcceptTruncated), as `dstt start` does when told
// to: the log records what was lost.
func truncationScenario(t *testing.T, c *collector) {
	path := filepath.Join(t.TempDir(), "node.log")
	signer := newKey(t)
	l, err := audit.OpenNodeLog(path, signer, audit.NodeLogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := l.Append(audit.KindNodeStarted, audit.Fields{Action: "start"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	l, err = audit.OpenNodeLog(path, signer, audit.NodeLogOptions{AcceptTruncated: true})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r := l.Recovery()
	if r == nil || r.Lost() != 3 {
		t.Fatalf("recovery %+v", r)
	}
	c.take(evAuditGap, &tracked{chain: "node", src: l, sync: l.Sync, next: r.Entry.Seq})
}
