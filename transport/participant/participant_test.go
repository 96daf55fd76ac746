package participant_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/testnet/pgtest"
	"github.com/dstt/dstt/transport/branchapi"
	"github.com/dstt/dstt/transport/participant"
	"github.com/dstt/dstt/types/typestest"
)

const chainID = "dstt-test"

// bank is a participant over one PostgreSQL database holding account
// "alice": action debits the payload's amount (failing when the balance
// would go below zero), compensate credits it back.
type bank struct {
	db       *sql.DB
	p        *participant.Participant
	key      *security.LocalSigner
	executor *security.LocalSigner
	calls    map[string]int // operation -> times its function ran
}

func newBank(t *testing.T, balance int64) *bank {
	t.Helper()
	c := pgtest.Start(t)
	db := c.Open("postgres")
	if _, err := db.Exec(`CREATE TABLE accounts (id text PRIMARY KEY, balance bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO accounts VALUES ('alice', $1)`, balance); err != nil {
		t.Fatal(err)
	}
	b := &bank{db: db, key: typestest.Key("bank-a"), executor: typestest.Key("exec-1"), calls: map[string]int{}}
	p, err := participant.New(participant.Config{
		ChainID: chainID, ID: "bank-a", DB: db, Signer: b.key, Executors: [][]byte{b.executor.PubKey()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CreateBarrierTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.Handle(branchapi.OpAction, b.move(-1))
	p.Handle(branchapi.OpCompensate, b.move(+1))
	b.p = p
	return b
}

func (b *bank) move(sign int64) participant.BranchFunc {
	return func(ctx context.Context, tx *sql.Tx, br participant.Branch) (participant.Answer, error) {
		b.calls[br.Operation]++
		amount, err := strconv.ParseInt(string(br.Payload), 10, 64)
		if err != nil {
			return participant.Failed([]byte("bad amount")), nil
		}
		var bal int64
		if err := tx.QueryRowContext(ctx, `UPDATE accounts SET balance = balance + $1 WHERE id = 'alice' RETURNING balance`, sign*amount).Scan(&bal); err != nil {
			return participant.Answer{}, err
		}
		if bal < 0 {
			return participant.Failed([]byte("insufficient funds")), nil
		}
		return participant.Succeeded([]byte(strconv.FormatInt(bal, 10))), nil
	}
}

func (b *bank) balance(t *testing.T) int64 {
	t.Helper()
	var v int64
	if err := b.db.QueryRow(`SELECT balance FROM accounts WHERE id = 'alice'`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func (b *bank) barrierRows(t *testing.T, gid string) map[string]string {
	t.Helper()
	rows, err := b.db.Query(`SELECT op, reason FROM dstt_gtx_barrier WHERE gid = $1`, gid)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var op, reason string
		if err := rows.Scan(&op, &reason); err != nil {
			t.Fatal(err)
		}
		out[op] = reason
	}
	return out
}

func (b *bank) run(t *testing.T, gid, op, amount string) branchapi.Answer {
	t.Helper()
	ans, err := b.p.Run(context.Background(), participant.Branch{GID: gid, Branch: 0, Operation: op, Attempt: 1, Payload: []byte(amount)})
	if err != nil {
		t.Fatal(err)
	}
	return ans
}

func TestRepeatedOperationIsNoOp(t *testing.T) {
	b := newBank(t, 100)
	first := b.run(t, "g1", branchapi.OpAction, "30")
	again := b.run(t, "g1", branchapi.OpAction, "30")
	if first.Outcome != branchapi.OutcomeSucceeded || string(first.Result) != "70" {
		t.Fatalf("first action: %+v", first)
	}
	if again.Outcome != first.Outcome || !bytes.Equal(again.Result, first.Result) || !bytes.Equal(again.Signature, first.Signature) {
		t.Fatalf("repeated action answered %+v, first %+v", again, first)
	}
	if got := b.balance(t); got != 70 || b.calls[branchapi.OpAction] != 1 {
		t.Fatalf("balance %d after the action ran %d times; want 70, once", got, b.calls[branchapi.OpAction])
	}
	b.run(t, "g1", branchapi.OpCompensate, "30")
	b.run(t, "g1", branchapi.OpCompensate, "30")
	if got := b.balance(t); got != 100 || b.calls[branchapi.OpCompensate] != 1 {
		t.Fatalf("balance %d after compensate ran %d times; want 100, once", got, b.calls[branchapi.OpCompensate])
	}
}

func TestCompensationBeforeActionBlocksAction(t *testing.T) {
	b := newBank(t, 100)
	if ans := b.run(t, "g2", branchapi.OpCompensate, "30"); ans.Outcome != branchapi.OutcomeSucceeded {
		t.Fatalf("null compensation answered %+v", ans)
	}
	late := b.run(t, "g2", branchapi.OpAction, "30")
	if late.Outcome != branchapi.OutcomeFailed {
		t.Fatalf("a late action after its compensation answered %+v, want failed", late)
	}
	if got := b.balance(t); got != 100 || len(b.calls) != 0 {
		t.Fatalf("balance %d, functions run %v; want 100 and none", got, b.calls)
	}
	rows := b.barrierRows(t, "g2")
	if rows[branchapi.OpAction] != branchapi.OpCompensate || rows[branchapi.OpCompensate] != branchapi.OpCompensate {
		t.Fatalf("barrier rows %v", rows)
	}
}

func TestFailureRollsBackWrites(t *testing.T) {
	b := newBank(t, 100)
	ans := b.run(t, "g3", branchapi.OpAction, "130")
	if ans.Outcome != branchapi.OutcomeFailed || string(ans.Result) != "insufficient funds" || len(ans.Signature) != ed25519.SignatureSize {
		t.Fatalf("overdraft answered %+v, want a signed failure", ans)
	}
	req := branchapi.Request{ChainID: chainID, GID: "g3", Operation: branchapi.OpAction, Attempt: 1, Participant: "bank-a", Payload: []byte("130")}
	if !bytes.Equal(ans.PubKey, b.key.PubKey()) || !ed25519.Verify(b.key.PubKey(), req.SignBytes(ans), ans.Signature) {
		t.Fatal("the answer's signature does not verify over the engine's sign bytes")
	}
	if got := b.balance(t); got != 100 {
		t.Fatalf("balance %d after a failed action, want 100", got)
	}
	if rows := b.barrierRows(t, "g3"); len(rows) != 0 {
		t.Fatalf("a failed action left barrier rows %v", rows)
	}
	// a failed action left nothing behind: the compensation is a null one
	b.run(t, "g3", branchapi.OpCompensate, "130")
	if got := b.balance(t); got != 100 || b.calls[branchapi.OpCompensate] != 0 {
		t.Fatalf("balance %d, compensate ran %d times; want 100, never", got, b.calls[branchapi.OpCompensate])
	}
}

// post sends a request signed by signer at time at.
func post(t *testing.T, url string, req branchapi.Request, signer security.Signer, at time.Time) (int, branchapi.Answer) {
	t.Helper()
	body, _ := json.Marshal(req)
	r, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if signer != nil {
		if err := branchapi.SignRequest(r, req.ChainID, body, signer.PubKey(), at, signer.Sign); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ans branchapi.Answer
	json.NewDecoder(resp.Body).Decode(&ans) //nolint:errcheck // status says enough
	return resp.StatusCode, ans
}

func TestHTTPAuthenticatesExecutors(t *testing.T) {
	b := newBank(t, 100)
	srv := httptest.NewServer(b.p)
	defer srv.Close()
	req := branchapi.Request{ChainID: chainID, GID: "g4", Operation: branchapi.OpAction, Participant: "bank-a", Payload: []byte("10")}
	now := time.Now()
	cases := []struct {
		name   string
		signer security.Signer
		at     time.Time
		status int
	}{
		{"unsigned", nil, now, http.StatusUnauthorized},
		{"untrusted key", typestest.Key("stranger"), now, http.StatusForbidden},
		{"stale", b.executor, now.Add(-10 * time.Minute), http.StatusUnauthorized},
	}
	for _, c := range cases {
		if st, _ := post(t, srv.URL, req, c.signer, c.at); st != c.status {
			t.Errorf("%s: status %d, want %d", c.name, st, c.status)
		}
	}
	wrong := req
	wrong.Participant = "bank-b"
	if st, _ := post(t, srv.URL, wrong, b.executor, now); st != http.StatusBadRequest {
		t.Errorf("request for another participant: status %d, want 400", st)
	}
	if got := b.balance(t); got != 100 {
		t.Fatalf("refused requests changed the balance to %d", got)
	}
	st, ans := post(t, srv.URL, req, b.executor, now)
	if st != http.StatusOK || ans.Outcome != branchapi.OutcomeSucceeded || b.balance(t) != 90 {
		t.Fatalf("signed request: status %d answer %+v balance %d", st, ans, b.balance(t))
	}
}

// Two executors asking at once: one runs the function, the other waits on
// the barrier row and returns the same answer.
func TestConcurrentRequestsRunOnce(t *testing.T) {
	b := newBank(t, 100)
	const n = 4
	answers := make(chan branchapi.Answer, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			ans, err := b.p.Run(context.Background(), participant.Branch{GID: "g5", Operation: branchapi.OpAction, Attempt: 1, Payload: []byte("30")})
			answers <- ans
			errs <- err
		}()
	}
	var first branchapi.Answer
	for i := range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		ans := <-answers
		if i == 0 {
			first = ans
		}
		if ans.Outcome != branchapi.OutcomeSucceeded || !bytes.Equal(ans.Signature, first.Signature) {
			t.Fatalf("answers differ: %+v and %+v", ans, first)
		}
	}
	if got := b.balance(t); got != 70 || b.calls[branchapi.OpAction] != 1 {
		t.Fatalf("balance %d after the action ran %d times; want 70, once", got, b.calls[branchapi.OpAction])
	}
}
