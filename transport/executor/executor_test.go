package executor_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/branchapi"
	"github.com/dstt/dstt/transport/executor"
	"github.com/dstt/dstt/types/typestest"
)

// memChain is an in-memory Chain: a set of awaited steps, each taking the
// first answer validly signed by its participant's key.
type memChain struct {
	chainID string
	keys    map[string][]byte // participant -> registered key

	mu       sync.Mutex
	steps    map[string]executor.Step
	answers  map[string]branchapi.Answer
	submits  int
	changed  chan struct{}
	accepted chan string
}

func newMemChain(chainID string) *memChain {
	return &memChain{chainID: chainID, keys: map[string][]byte{}, steps: map[string]executor.Step{},
		answers: map[string]branchapi.Answer{}, changed: make(chan struct{}, 1), accepted: make(chan string, 16)}
}

func (m *memChain) await(s executor.Step) {
	m.mu.Lock()
	m.steps[s.GID] = s
	m.mu.Unlock()
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

func (m *memChain) Pending(context.Context) ([]executor.Step, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []executor.Step
	for _, s := range m.steps {
		out = append(out, s)
	}
	return out, nil
}

var errWrongSigner = errors.New("memchain: not signed by the participant")

func (m *memChain) Submit(_ context.Context, s executor.Step, a branchapi.Answer) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.submits++
	if _, ok := m.steps[s.GID]; !ok {
		return nil // no longer awaited
	}
	req := branchapi.Request{ChainID: m.chainID, GID: s.GID, Branch: s.Branch, Operation: s.Operation,
		Attempt: s.Attempt, Participant: s.Participant, Payload: s.Payload}
	if string(a.PubKey) != string(m.keys[s.Participant]) || !ed25519.Verify(a.PubKey, req.SignBytes(a), a.Signature) {
		return errWrongSigner
	}
	delete(m.steps, s.GID)
	m.answers[s.GID] = a
	m.accepted <- s.GID
	return nil
}

func (m *memChain) Expire(context.Context, string) error { return nil }

func (m *memChain) Wait(ctx context.Context) {
	t := time.NewTimer(20 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-m.changed:
	case <-t.C:
	}
}

func startExecutors(t *testing.T, chain executor.Chain, chainID string, keys ...*security.LocalSigner) {
	t.Helper()
	startGated(t, chain, chainID, nil, keys...)
}

func startGated(t *testing.T, chain executor.Chain, chainID string, gate func(context.Context, executor.Step) error, keys ...*security.LocalSigner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for _, k := range keys {
		cfg := executor.DefaultConfig()
		cfg.ChainID, cfg.Chain, cfg.Signer = chainID, chain, k
		cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 50*time.Millisecond
		cfg.HTTP = &http.Client{Timeout: 2 * time.Second} // the hung request gives up sooner
		cfg.Gate = gate
		ex, err := executor.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() { ex.Run(ctx) }) //nolint:errcheck // ends with ctx
	}
}

func waitAccepted(t *testing.T, m *memChain, gid string) branchapi.Answer {
	t.Helper()
	select {
	case got := <-m.accepted:
		if got != gid {
			t.Fatalf("accepted %s, want %s", got, gid)
		}
	case <-time.After(time.Minute):
		t.Fatalf("no answer for %s within a minute", gid)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.answers[gid]
}

// Two executors drive the same steps at once: each operation runs once at
// the participant, and the chain gets a valid answer for each.
func TestExecutorsAtOnce(t *testing.T) {
	const chainID = "mem"
	e1, e2 := typestest.Key("exec-1"), typestest.Key("exec-2")
	bk := startBank(t, "bank-a", chainID, [][]byte{e1.PubKey(), e2.PubKey()}, typestest.Key("bank-a"), map[string]int64{"alice": 100})
	m := newMemChain(chainID)
	m.keys["bank-a"] = bk.key.PubKey()
	startExecutors(t, m, chainID, e1, e2)
	for _, gid := range []string{"g1", "g2", "g3"} {
		m.await(executor.Step{GID: gid, Operation: branchapi.OpAction, Attempt: 1, Participant: "bank-a", Endpoint: bk.srv.URL, Payload: payload("alice", -10)})
		if a := waitAccepted(t, m, gid); a.Outcome != branchapi.OutcomeSucceeded {
			t.Fatalf("%s answered %+v", gid, a)
		}
	}
	if got := bk.balance(t, "alice"); got != 70 {
		t.Fatalf("alice has %d after three debits of 10, want 70", got)
	}
	if n := bk.scalar(t, `SELECT count(*) FROM journal`); n != 3 {
		t.Fatalf("the bank applied %d operations, want 3", n)
	}
}

// A participant that hangs up is asked again; one signing with a key
// other than its registered one never gets an answer accepted.
func TestExecutorRetriesAndWrongKey(t *testing.T) {
	const chainID = "mem"
	e1 := typestest.Key("exec-1")
	bk := startBank(t, "bank-a", chainID, [][]byte{e1.PubKey()}, typestest.Key("bank-a"), map[string]int64{"alice": 100})
	rogue := startBank(t, "bank-b", chainID, [][]byte{e1.PubKey()}, typestest.Key("rogue"), map[string]int64{"bob": 100})
	m := newMemChain(chainID)
	m.keys["bank-a"], m.keys["bank-b"] = bk.key.PubKey(), typestest.Key("bank-b").PubKey()
	bk.hangOnce("g1")
	startExecutors(t, m, chainID, e1)
	m.await(executor.Step{GID: "wrong", Operation: branchapi.OpAction, Attempt: 1, Participant: "bank-b", Endpoint: rogue.srv.URL, Payload: payload("bob", 1)})
	m.await(executor.Step{GID: "g1", Operation: branchapi.OpAction, Attempt: 1, Participant: "bank-a", Endpoint: bk.srv.URL, Payload: payload("alice", -10)})
	if a := waitAccepted(t, m, "g1"); a.Outcome != branchapi.OutcomeSucceeded {
		t.Fatalf("g1 answered %+v", a)
	}
	m.mu.Lock()
	_, answered := m.answers["wrong"]
	m.mu.Unlock()
	if answered {
		t.Fatal("an answer signed by the wrong key was accepted")
	}
	if n := rogue.scalar(t, `SELECT count(*) FROM journal`); n != 1 {
		t.Fatalf("the rogue bank applied the step %d times over the retries, want once", n)
	}
}

// With a step gate the executor calls the participant only after the
// step was released.
func TestStepGate(t *testing.T) {
	const chainID = "mem"
	e1 := typestest.Key("exec-1")
	bk := startBank(t, "bank-a", chainID, [][]byte{e1.PubKey()}, typestest.Key("bank-a"), map[string]int64{"alice": 100})
	m := newMemChain(chainID)
	m.keys["bank-a"] = bk.key.PubKey()
	g := executor.StepGate{Dir: t.TempDir(), Poll: 10 * time.Millisecond}
	waiting := make(chan struct{}, 1)
	startGated(t, m, chainID, func(ctx context.Context, s executor.Step) error {
		waiting <- struct{}{}
		return g.Wait(ctx, s)
	}, e1)
	m.await(executor.Step{GID: "g1", Operation: branchapi.OpAction, Attempt: 1, Participant: "bank-a", Endpoint: bk.srv.URL, Payload: payload("alice", -10)})
	select {
	case <-waiting:
	case <-time.After(time.Minute):
		t.Fatal("the executor never reached the gate")
	}
	if n := bk.scalar(t, `SELECT count(*) FROM dstt_gtx_barrier`); n != 0 {
		t.Fatalf("the participant ran %d operations before the step was released", n)
	}
	if err := g.Release("g1"); err != nil {
		t.Fatal(err)
	}
	waitAccepted(t, m, "g1")
	if got := bk.balance(t, "alice"); got != 90 {
		t.Fatalf("alice has %d, want 90", got)
	}
}
