package testnet_test

// Global transactions on a 4-validator testnet of real `dstt start`
// processes, two of them running the gtx executor, participants with real
// PostgreSQL: one validator with its executor is killed -9 while its
// executor has branch requests in flight; the other executor finishes
// every gtx. `make gtx-faults` runs it; `make test` runs it too (about
// half a minute).

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/testnet/pgtest"
	"github.com/dstt/dstt/transport/branchapi"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/client/cometrpc"
	"github.com/dstt/dstt/transport/participant"
	"github.com/dstt/dstt/types"
)

// gtxBank is one organisation's participant: its own PostgreSQL with
// accounts and a journal of applied operations (no unique key: only the
// barrier keeps an operation from being applied twice). While gate is
// set, every request waits for it to close; inFlight counts the waiting
// requests per executor key.
type gtxBank struct {
	id  string
	db  *sql.DB
	key security.Signer
	p   *participant.Participant
	srv *httptest.Server

	mu       sync.Mutex
	gate     chan struct{}
	inFlight map[string]int // base64 executor key -> requests waiting at the gate
}

func startGtxBank(t *testing.T, id, chainID string, key security.Signer, executors [][]byte, accounts map[string]int64) *gtxBank {
	t.Helper()
	db := pgtest.Start(t).Open("postgres")
	if _, err := db.Exec(`CREATE TABLE accounts (id text PRIMARY KEY, balance bigint NOT NULL);
		CREATE TABLE journal (gid text, branch bigint, op text)`); err != nil {
		t.Fatal(err)
	}
	for acct, bal := range accounts {
		if _, err := db.Exec(`INSERT INTO accounts VALUES ($1, $2)`, acct, bal); err != nil {
			t.Fatal(err)
		}
	}
	b := &gtxBank{id: id, db: db, key: key, inFlight: map[string]int{}}
	p, err := participant.New(participant.Config{ChainID: chainID, ID: id, DB: db, Signer: key, Executors: executors})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreateBarrierTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Handle(branchapi.OpAction, applyMove)
	p.Handle(branchapi.OpCompensate, applyMove)
	b.p = p
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(b.srv.Close)
	return b
}

// applyMove adds the payload's delta to its account (no overdraft).
func applyMove(ctx context.Context, tx *sql.Tx, br participant.Branch) (participant.Answer, error) {
	var m struct {
		Account string `json:"account"`
		Delta   int64  `json:"delta"`
	}
	if json.Unmarshal(br.Payload, &m) != nil {
		return participant.Failed([]byte("bad payload")), nil
	}
	var bal int64
	err := tx.QueryRowContext(ctx, `UPDATE accounts SET balance = balance + $2 WHERE id = $1 RETURNING balance`, m.Account, m.Delta).Scan(&bal)
	if err == sql.ErrNoRows || (err == nil && bal < 0) {
		return participant.Failed([]byte("refused")), nil
	}
	if err != nil {
		return participant.Answer{}, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO journal VALUES ($1, $2, $3)`, br.GID, int64(br.Branch), br.Operation)
	return participant.Succeeded(nil), err
}

func (b *gtxBank) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, branchapi.MaxRequestBytes))
	b.mu.Lock()
	gate, who := b.gate, r.Header.Get(branchapi.HeaderKey)
	if gate != nil {
		b.inFlight[who]++
	}
	b.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-r.Context().Done(): // the caller died
		}
		b.mu.Lock()
		b.inFlight[who]--
		b.mu.Unlock()
		if r.Context().Err() != nil {
			return
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	b.p.ServeHTTP(w, r)
}

func (b *gtxBank) waiting(key []byte) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.inFlight[base64.StdEncoding.EncodeToString(key)]
}

func (b *gtxBank) scalar(t *testing.T, q string) int64 {
	t.Helper()
	var v int64
	if err := b.db.QueryRow(q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func movePayload(acct string, delta int64) []byte {
	p, _ := json.Marshal(map[string]any{"account": acct, "delta": delta})
	return p
}

// TestGtxValidatorKilled: sagas moving money from bank A to bank B are in
// flight when node1 (a validator running an executor) is killed -9 with
// requests of its executor waiting at bank B; node2's executor and the
// three remaining validators finish every saga. Money is conserved, no
// operation is applied twice or without its barrier row, every gtx
// commits.
func TestGtxValidatorKilled(t *testing.T) {
	c := newCluster(t, "tcp", 4)
	nw := c.network()
	keys := make([]security.Signer, len(nw.Nodes))
	var execKeys [][]byte
	for i, n := range nw.Nodes {
		keys[i] = devSigner(t, n.Home)
		execKeys = append(execKeys, keys[i].PubKey())
	}
	const sagas, amount, initial = 12, 10, 1000
	a := startGtxBank(t, "bank-a", nw.ChainID, keys[2], execKeys, map[string]int64{"alice": initial})
	bk := startGtxBank(t, "bank-b", nw.ChainID, keys[3], execKeys, map[string]int64{"bob": 0})
	for i, n := range nw.Nodes {
		if i < 2 { // node1 and node2 run an executor
			c.start(t, n.Name, "--gtx-executor")
		} else {
			c.start(t, n.Name)
		}
	}
	c.waitReady(t, 90*time.Second, c.names()...)

	rpcs := map[string]*client.Client{}
	for i, n := range nw.Nodes {
		cl, err := cometrpc.New(n.RPC, client.WithSigner(keys[i]))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Close() })
		rpcs[n.Name] = cl
	}
	submit := func(node string, ops ...types.Op) int64 {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res, err := rpcs[node].SubmitOps(ctx, ops...)
		if err != nil {
			t.Fatalf("on %s: %v", node, err)
		}
		return res.Height
	}
	var registered int64
	for i, b := range []*gtxBank{a, bk} {
		n := nw.Nodes[2+i]
		registered = max(registered, submit(n.Name, types.Op{Sum: &types.Op_RegisterParticipant{RegisterParticipant: &types.RegisterParticipant{
			Id: b.id, Org: n.Org, PubKey: b.key.PubKey(), Endpoint: b.srv.URL}}}))
	}
	// node3 admits the gtxs against its own committed state: it must have
	// the registrations (node4 saw bank-b's committed first).
	waitUntil(t, time.Minute, "node3 at the registrations' height", func() (bool, string) {
		h := c.heights("node3")["node3"]
		return h >= registered, fmt.Sprintf("node3 at %d, registrations at %d", h, registered)
	})

	bk.mu.Lock()
	bk.gate = make(chan struct{})
	bk.mu.Unlock()
	var gids []string
	for i := range sagas {
		gid := fmt.Sprintf("xfer-%d", i)
		gids = append(gids, gid)
		submit("node3", types.Op{Sum: &types.Op_BeginGtx{BeginGtx: &types.BeginGtx{
			Gid: gid, Mode: types.GtxMode_GTX_MODE_SAGA, DeadlineUnixMs: time.Now().Add(time.Hour).UnixMilli(),
			Branches: []types.GtxBranch{
				{Participant: "bank-a", Action: movePayload("alice", -amount), Compensate: movePayload("alice", amount)},
				{Participant: "bank-b", Action: movePayload("bob", amount), Compensate: movePayload("bob", -amount)},
			}}}})
	}
	waitUntil(t, time.Minute, "node1's executor waiting at bank B", func() (bool, string) {
		n := bk.waiting(keys[0].PubKey())
		return n > 0, fmt.Sprintf("%d requests of node1's executor waiting", n)
	})
	for _, gid := range gids { // every saga is in flight when node1 dies
		if g, err := rpcs["node2"].Gtx(context.Background(), gid); err != nil || g.Phase.IsFinal() {
			t.Fatalf("gtx %s before the kill: %v (%+v), want it in flight", gid, err, g)
		}
	}
	c.kill(t, "node1")
	waitUntil(t, 30*time.Second, "node1's requests gone", func() (bool, string) {
		n := bk.waiting(keys[0].PubKey())
		return n == 0, fmt.Sprintf("%d requests of node1's executor waiting", n)
	})
	bk.mu.Lock()
	close(bk.gate)
	bk.gate = nil
	bk.mu.Unlock()

	for _, gid := range gids {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		g, err := rpcs["node2"].AwaitGtx(ctx, gid, 50*time.Millisecond, nil)
		cancel()
		if err != nil || g.Phase != types.GtxPhase_GTX_PHASE_COMMITTED {
			t.Fatalf("gtx %s: %v (%+v), want COMMITTED", gid, err, g)
		}
	}
	checkGtxBanks(t, a, bk, initial-sagas*amount, sagas*amount)
}

// checkGtxBanks asserts the balances, that no operation was applied twice
// and that each has its barrier row.
func checkGtxBanks(t *testing.T, a, b *gtxBank, alice, bob int64) {
	t.Helper()
	if got := a.scalar(t, `SELECT balance FROM accounts WHERE id = 'alice'`); got != alice {
		t.Errorf("alice has %d, want %d", got, alice)
	}
	if got := b.scalar(t, `SELECT balance FROM accounts WHERE id = 'bob'`); got != bob {
		t.Errorf("bob has %d, want %d", got, bob)
	}
	for _, bk := range []*gtxBank{a, b} {
		if n := bk.scalar(t, `SELECT count(*) FROM (SELECT 1 FROM journal GROUP BY gid, branch, op HAVING count(*) > 1) d`); n != 0 {
			t.Errorf("%s applied %d operations more than once", bk.id, n)
		}
		if n := bk.scalar(t, `SELECT count(*) FROM journal j WHERE NOT EXISTS (SELECT 1 FROM dstt_gtx_barrier g WHERE g.gid = j.gid AND g.branch = j.branch AND g.op = j.op)`); n != 0 {
			t.Errorf("%s applied %d operations without a barrier row", bk.id, n)
		}
	}
}
