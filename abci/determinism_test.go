package abci

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// randomBlocks builds a seeded, reproducible workload: puts, deletes,
// checks against right and wrong versions, replays, bad signatures,
// expired txs and garbage, over a small key space so txs collide.
type workload struct {
	rng     *rand.Rand
	signers []*security.LocalSigner
	sent    [][]byte
	nonce   uint64
}

func newWorkload(seed int64) *workload {
	w := &workload{rng: rand.New(rand.NewSource(seed))}
	for i := range 5 {
		w.signers = append(w.signers, testKey(fmt.Sprintf("signer%d", i)))
	}
	return w
}

func (w *workload) key() string {
	return fmt.Sprintf("%s/k%d", []string{"d0", "d1", "d2"}[w.rng.Intn(3)], w.rng.Intn(4))
}

func (w *workload) keys() []string {
	var ks []string
	for _, d := range []string{"d0", "d1", "d2"} {
		for i := range 4 {
			ks = append(ks, fmt.Sprintf("%s/k%d", d, i))
		}
	}
	return ks
}

// policyOp is a random grant, revoke, or allow/deny rule (added or removed)
// over the workload's signers, roles and domains.
func (w *workload) policyOp() types.Op {
	subj := types.Address(w.signers[1+w.rng.Intn(len(w.signers)-1)].PubKey())
	role := []string{"writer", "reader"}[w.rng.Intn(2)]
	dom := []string{"d0", "d1", "d2", "*"}[w.rng.Intn(4)]
	switch w.rng.Intn(4) {
	case 0:
		return types.Op{Sum: &types.Op_Grant{Grant: &types.Grant{Subject: subj, Role: role, Domain: dom}}}
	case 1:
		return types.Op{Sum: &types.Op_Revoke{Revoke: &types.Revoke{Subject: subj, Role: role, Domain: dom}}}
	}
	if w.rng.Intn(2) == 0 {
		subj = role
	}
	obj := []string{"*", "d0/*", "d1/k1", "d2/:k"}[w.rng.Intn(4)]
	return types.Op{Sum: &types.Op_Policy{Policy: &types.PolicyRule{
		Subject: subj, Domain: dom, Object: obj, Action: []string{"read", "write", "*"}[w.rng.Intn(3)],
		Deny: w.rng.Intn(4) == 0, Remove: w.rng.Intn(4) == 0,
	}}}
}

func (w *workload) tx(t testing.TB, height uint64, versions func(string) types.Version) []byte {
	r := w.rng.Intn(100)
	switch {
	case r < 4 && len(w.sent) > 0: // replay
		return w.sent[w.rng.Intn(len(w.sent))]
	case r < 6: // garbage
		b := make([]byte, w.rng.Intn(40))
		w.rng.Read(b)
		return b
	}
	w.nonce++
	body := types.TxBody{ChainId: testChain, Nonce: w.nonce, ValidUntilHeight: height + uint64(w.rng.Intn(5))}
	if r < 20 { // a policy change, by the admin (signer0) or, denied, by someone else
		signer := w.signers[0]
		if r < 12 {
			signer = w.signers[1+w.rng.Intn(len(w.signers)-1)]
		}
		body.Ops = append(body.Ops, w.policyOp())
		return signTx(t, &body, signer)
	}
	if r < 9 {
		body.ValidUntilHeight = height - 1 // expired
	}
	for range 1 + w.rng.Intn(4) {
		k := w.key()
		switch op := w.rng.Intn(10); {
		case op < 5:
			body.Ops = append(body.Ops, putOp(k, fmt.Sprintf("v%d", w.rng.Intn(1000))))
		case op < 7:
			body.Ops = append(body.Ops, deleteOp(k))
		case op < 9:
			body.Ops = append(body.Ops, checkOp(k, versions(k))) // usually right
		default:
			body.Ops = append(body.Ops, checkOp(k, types.Version{Height: uint64(w.rng.Intn(int(height) + 1)), TxIndex: 0}))
		}
	}
	tx := signTx(t, &body, w.signers[w.rng.Intn(len(w.signers))])
	if w.rng.Intn(30) == 0 { // tamper with the signature
		tx[len(tx)-3] ^= 1
	}
	w.sent = append(w.sent, tx)
	return tx
}

// TestReplicasAgree feeds the same seeded random blocks to four engines —
// two on in-memory stores, one on Pebble, one restarted every few blocks,
// with and without the verification cache — and requires identical app
// hashes and tx outcomes at every height.
func TestReplicasAgree(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { replicasAgree(t, seed, 60) })
	}
}

func replicasAgree(t *testing.T, seed int64, blocks int) {
	pebbleDir := t.TempDir()
	ps, err := storage.NewPebbleStore(pebbleDir, storage.DefaultPebbleOptions())
	if err != nil {
		t.Fatal(err)
	}
	restartStore := storage.NewInMemoryStore()
	w := newWorkload(seed)
	genesis := DefaultGenesisState()
	genesis.Admins = []string{types.Address(w.signers[0].PubKey())}
	state, _ := json.Marshal(genesis)
	open := func(s storage.Store, v Verifier) *Engine {
		e, err := NewEngine(s, v)
		if err != nil {
			t.Fatal(err)
		}
		if !e.Initialised() {
			if _, err := e.InitChain(testChain, state); err != nil {
				t.Fatal(err)
			}
		}
		return e
	}
	engines := []*Engine{
		open(storage.NewInMemoryStore(), NewCachedVerifier(64)),
		open(storage.NewInMemoryStore(), PlainVerifier{}),
		open(ps, NewCachedVerifier(1<<16)),
		open(restartStore, PlainVerifier{}),
	}
	defer func() { _ = ps.Close() }()
	ref := engines[0]
	versions := func(k string) types.Version {
		kv, err := ref.Get(k, 0)
		if err != nil {
			return types.Version{}
		}
		return kv.Version
	}
	changes, denied, policyChanges := 0, 0, 0
	for h := uint64(1); h <= uint64(blocks); h++ {
		var txs [][]byte
		if w.rng.Intn(8) != 0 { // some blocks are empty
			for range w.rng.Intn(25) {
				txs = append(txs, w.tx(t, h, versions))
			}
		}
		// Warm one cache with CheckTx, as a validator's mempool would.
		for _, tx := range txs {
			engines[0].CheckTx(tx)
		}
		block := Block{Height: h, Time: time.Unix(int64(h), 0), Txs: txs}
		var first *BlockResult
		for i, e := range engines {
			res, err := e.FinalizeBlock(block)
			if err != nil {
				t.Fatalf("engine %d height %d: %v", i, h, err)
			}
			if err := e.Commit(); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = res
				continue
			}
			for j := range res.Txs {
				a, b := res.Txs[j], first.Txs[j]
				if a.Code != b.Code || a.Log != b.Log || len(a.Writes) != len(b.Writes) {
					t.Fatalf("seed %d height %d tx %d: engine %d %v %q, engine 0 %v %q", seed, h, j, i, a.Code, a.Log, b.Code, b.Log)
				}
			}
			if !bytes.Equal(res.AppHash, first.AppHash) {
				t.Fatalf("seed %d height %d: engine %d app hash %X, engine 0 %X", seed, h, i, res.AppHash, first.AppHash)
			}
		}
		for i, o := range first.Txs {
			switch {
			case o.Code == types.CodeOK && len(o.Writes) > 0:
				changes++
			case o.Code == types.CodeUnauthorized:
				denied++
			case o.Code == types.CodeOK:
				if _, body, err := types.DecodeTx(txs[i]); err == nil && body.Ops[0].GetPut() == nil && body.Ops[0].GetDelete() == nil && body.Ops[0].GetCheck() == nil {
					policyChanges++
				}
			}
		}
		refHead, err := ref.AuditHead(0)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range engines[1:] { // identical audit chains
			h, err := e.AuditHead(0)
			if err != nil || !h.Head.Equal(refHead.Head) || !bytes.Equal(h.StateHash, refHead.StateHash) {
				t.Fatalf("seed %d height %d: engine %d audit head %v, engine 0 %v (%v)", seed, h.Height, i+1, h.Head, refHead.Head, err)
			}
		}
		for i, e := range engines[1:] { // the same policy everywhere, deciding the same way
			if fmt.Sprint(e.Policy().Rules(), e.Policy().Grants()) != fmt.Sprint(ref.Policy().Rules(), ref.Policy().Grants()) {
				t.Fatalf("seed %d height %d: engine %d has another policy", seed, h, i+1)
			}
			for _, s := range w.signers {
				sub := types.Address(s.PubKey())
				for _, k := range w.keys() {
					for _, act := range []string{"read", "write"} {
						if a, b := e.Policy().Allowed(sub, k[:2], k, act), ref.Policy().Allowed(sub, k[:2], k, act); a != b {
							t.Fatalf("seed %d height %d: engine %d decides %s %s %s = %v, engine 0 %v\nrules %v\ngrants %v", seed, h, i+1, sub, act, k, a, b, ref.Policy().Rules(), ref.Policy().Grants())
						}
					}
				}
			}
		}
		if h%7 == 0 { // restart engine 3 over its store
			engines[3] = open(restartStore, PlainVerifier{})
		}
	}
	if changes == 0 || denied == 0 || policyChanges == 0 {
		t.Fatalf("seed %d: writes %d, denials %d, policy changes %d: the workload must exercise all three", seed, changes, denied, policyChanges)
	}
	t.Logf("seed %d: %d writing txs, %d denied, %d policy changes", seed, changes, denied, policyChanges)
	// Every replica reads the same values.
	for _, key := range w.keys() {
		want, werr := ref.Get(key, 0)
		for i, e := range engines[1:] {
			got, gerr := e.Get(key, 0)
			if (werr == nil) != (gerr == nil) || string(got.Value) != string(want.Value) || got.Version != want.Version {
				t.Fatalf("key %s: engine %d has %v/%v, engine 0 %v/%v", key, i+1, got, gerr, want, werr)
			}
		}
	}
}
