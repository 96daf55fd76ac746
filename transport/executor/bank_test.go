package executor_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/testnet/pgtest"
	"github.com/dstt/dstt/transport/branchapi"
	"github.com/dstt/dstt/transport/participant"
)

// bank is one organisation's participant service: its own PostgreSQL
// cluster holding accounts, holds (TCC reservations) and a journal of the
// operations its functions applied (no unique key: the barrier alone must
// keep an operation from being applied twice).
type bank struct {
	id  string
	db  *sql.DB
	key *security.LocalSigner
	srv *httptest.Server
	p   *participant.Participant

	cfg participant.Config

	mu    sync.Mutex
	hang  map[string]chan struct{} // gid -> closed when a request for it hung until cancelled
	slow  map[string]slowReq       // gid -> the next request waits for release
	crash map[string]chan int      // gid -> gets the PostgreSQL backend pid of the next action in flight
}

type slowReq struct{ arrived, release, done chan struct{} }

// move is every operation's payload: add delta to account's balance.
type move struct {
	Account string `json:"account"`
	Delta   int64  `json:"delta"`
}

const bankSchema = `
CREATE TABLE accounts (id text PRIMARY KEY, balance bigint NOT NULL, closed boolean NOT NULL DEFAULT false);
CREATE TABLE holds (gid text, branch bigint, account text, delta bigint, PRIMARY KEY (gid, branch));
CREATE TABLE journal (gid text, branch bigint, op text)`

func startBank(t testing.TB, id, chainID string, executors [][]byte, signer *security.LocalSigner, accounts map[string]int64) *bank {
	t.Helper()
	db := pgtest.Start(t).Open("postgres")
	if _, err := db.Exec(bankSchema); err != nil {
		t.Fatal(err)
	}
	for acct, bal := range accounts {
		if _, err := db.Exec(`INSERT INTO accounts (id, balance) VALUES ($1, $2)`, acct, bal); err != nil {
			t.Fatal(err)
		}
	}
	b := &bank{id: id, db: db, key: signer, hang: map[string]chan struct{}{}, slow: map[string]slowReq{}, crash: map[string]chan int{},
		cfg: participant.Config{ChainID: chainID, ID: id, DB: db, Signer: signer, Executors: executors}}
	b.p = b.newParticipant(t)
	if err := b.p.CreateBarrierTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.srv = httptest.NewServer(http.HandlerFunc(b.serve))
	t.Cleanup(func() { b.server().Close() })
	return b
}

func (b *bank) newParticipant(t testing.TB) *participant.Participant {
	p, err := participant.New(b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Handle(branchapi.OpAction, b.apply())
	p.Handle(branchapi.OpCompensate, b.apply())
	p.Handle(branchapi.OpTry, b.try)
	p.Handle(branchapi.OpConfirm, b.settle(true))
	p.Handle(branchapi.OpCancel, b.settle(false))
	return p
}

func (b *bank) server() *httptest.Server {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.srv
}

// crashOnce makes the next action for gid stop inside its SQL
// transaction, after its writes: the channel gets the transaction's
// PostgreSQL backend pid, and the action waits until its request ends.
func (b *bank) crashOnce(gid string) <-chan int {
	ch := make(chan int, 1)
	b.mu.Lock()
	b.crash[gid] = ch
	b.mu.Unlock()
	return ch
}

// crashPoint is where an action armed by crashOnce stops.
func (b *bank) crashPoint(ctx context.Context, tx *sql.Tx, br participant.Branch) error {
	b.mu.Lock()
	ch := b.crash[br.GID]
	delete(b.crash, br.GID)
	b.mu.Unlock()
	if ch == nil {
		return nil
	}
	var pid int
	if err := tx.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		return err
	}
	ch <- pid
	<-ctx.Done()
	return ctx.Err()
}

// kill stops the service as a crash would: every connection to its HTTP
// server is cut and the PostgreSQL session of the transaction in flight
// (backend pid) is terminated, so the database rolls it back.
func (b *bank) kill(t testing.TB, pid int) {
	t.Helper()
	var ok bool
	if err := b.db.QueryRow(`SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
		t.Fatalf("terminating backend %d: %v %v", pid, ok, err)
	}
	srv := b.server()
	srv.CloseClientConnections()
	srv.Close()
}

// restart starts a new participant service on the address the killed one had.
func (b *bank) restart(t testing.TB) {
	t.Helper()
	addr := b.server().Listener.Addr().String()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listening again on %s: %v", addr, err)
	}
	p := b.newParticipant(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(b.serve))
	srv.Listener.Close() //nolint:errcheck // replaced by the old address
	srv.Listener = l
	b.mu.Lock()
	b.p, b.srv = p, srv
	b.mu.Unlock()
	srv.Start()
}

// serve hangs the first request for a gid registered with hangOnce until
// the caller gives up, then serves as usual.
func (b *bank) serve(w http.ResponseWriter, r *http.Request) {
	var req branchapi.Request
	raw, _ := io.ReadAll(http.MaxBytesReader(w, r.Body, branchapi.MaxRequestBytes))
	json.Unmarshal(raw, &req) //nolint:errcheck // the participant refuses it below
	b.mu.Lock()
	ch := b.hang[req.GID]
	delete(b.hang, req.GID)
	slow, isSlow := b.slow[req.GID]
	delete(b.slow, req.GID)
	b.mu.Unlock()
	if isSlow {
		close(slow.arrived)
		<-slow.release
		defer close(slow.done)
	}
	if ch != nil {
		<-r.Context().Done()
		close(ch)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	b.mu.Lock()
	p := b.p
	b.mu.Unlock()
	p.ServeHTTP(w, r)
}

// hangOnce makes the next request for gid hang; the channel closes when
// its caller gave up.
func (b *bank) hangOnce(gid string) <-chan struct{} {
	ch := make(chan struct{})
	b.mu.Lock()
	b.hang[gid] = ch
	b.mu.Unlock()
	return ch
}

// slowOnce makes the next request for gid wait until release is closed,
// then run; arrived closes when that request came in, done when it was
// answered.
func (b *bank) slowOnce(gid string, release chan struct{}) (arrived, done <-chan struct{}) {
	r := slowReq{arrived: make(chan struct{}), release: release, done: make(chan struct{})}
	b.mu.Lock()
	b.slow[gid] = r
	b.mu.Unlock()
	return r.arrived, r.done
}

func decodeMove(p []byte) (move, bool) {
	var m move
	return m, json.Unmarshal(p, &m) == nil && m.Account != ""
}

func journal(ctx context.Context, tx *sql.Tx, br participant.Branch) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO journal VALUES ($1, $2, $3)`, br.GID, int64(br.Branch), br.Operation)
	return err
}

// addTo adds delta to an open account's balance; false: no such open
// account, or the balance would go below zero.
func addTo(ctx context.Context, tx *sql.Tx, acct string, delta int64) (bool, error) {
	var bal int64
	err := tx.QueryRowContext(ctx, `UPDATE accounts SET balance = balance + $2 WHERE id = $1 AND NOT closed RETURNING balance`, acct, delta).Scan(&bal)
	if err == sql.ErrNoRows {
		return false, nil
	}
	return err == nil && bal >= 0, err
}

// apply is the saga's action and compensate: move the money now.
func (b *bank) apply() participant.BranchFunc {
	return func(ctx context.Context, tx *sql.Tx, br participant.Branch) (participant.Answer, error) {
		m, ok := decodeMove(br.Payload)
		if !ok {
			return participant.Failed([]byte("bad payload")), nil
		}
		ok, err := addTo(ctx, tx, m.Account, m.Delta)
		if err != nil {
			return participant.Answer{}, err
		}
		if !ok {
			return participant.Failed([]byte("refused")), nil
		}
		if err := journal(ctx, tx, br); err != nil {
			return participant.Answer{}, err
		}
		return participant.Succeeded(nil), b.crashPoint(ctx, tx, br)
	}
}

// try reserves: a debit leaves the balance now (held), a credit is only
// recorded; confirm and cancel settle the hold.
func (b *bank) try(ctx context.Context, tx *sql.Tx, br participant.Branch) (participant.Answer, error) {
	m, ok := decodeMove(br.Payload)
	if !ok {
		return participant.Failed([]byte("bad payload")), nil
	}
	ok, err := addTo(ctx, tx, m.Account, min(m.Delta, 0))
	if err != nil || !ok {
		return participant.Failed([]byte("refused")), err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO holds VALUES ($1, $2, $3, $4)`, br.GID, int64(br.Branch), m.Account, m.Delta); err != nil {
		return participant.Answer{}, err
	}
	return participant.Succeeded(nil), journal(ctx, tx, br)
}

func (b *bank) settle(confirm bool) participant.BranchFunc {
	return func(ctx context.Context, tx *sql.Tx, br participant.Branch) (participant.Answer, error) {
		var acct string
		var delta int64
		err := tx.QueryRowContext(ctx, `DELETE FROM holds WHERE gid = $1 AND branch = $2 RETURNING account, delta`, br.GID, int64(br.Branch)).Scan(&acct, &delta)
		if err != nil {
			return participant.Answer{}, err // the barrier ran the try first: a hold must be there
		}
		back := max(delta, 0) // confirm: credit now
		if !confirm {
			back = -min(delta, 0) // cancel: return the held debit
		}
		if _, err := addTo(ctx, tx, acct, back); err != nil {
			return participant.Answer{}, err
		}
		return participant.Succeeded(nil), journal(ctx, tx, br)
	}
}

func (b *bank) balance(t testing.TB, acct string) int64 {
	t.Helper()
	var v int64
	if err := b.db.QueryRow(`SELECT balance FROM accounts WHERE id = $1`, acct).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func (b *bank) scalar(t testing.TB, q string) int64 {
	t.Helper()
	var v int64
	if err := b.db.QueryRow(q).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

// pendingHang reports whether the hang armed for gid still waits for its request.
func (b *bank) pendingHang(gid string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, ok := b.hang[gid]
	return ok
}
