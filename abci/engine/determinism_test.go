package engine

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
	"github.com/dstt/dstt/types/typestest"
)

// workload builds a seeded, reproducible workload: puts, deletes, checks
// against right and wrong versions, replays, bad signatures, expired txs and
// garbage over a small key space so txs collide; policy ops; governance
// (validators and orgs added and removed with k-of-n org signatures, some
// short of k); key rotations (with proofs; some onto keys that are taken,
// some txs signed by retired keys); and misbehaviour evidence in blocks.
type workload struct {
	rng     *rand.Rand
	signers []*security.LocalSigner   // the identities' first keys
	keysOf  [][]*security.LocalSigner // every key each identity may hold, oldest first
	vals    []*security.LocalSigner   // validator keys, some not in the set
	ref     *Engine                   // committed state the next block is built against
	sent    [][]byte
	nonce   uint64
	rotated int
	// params are the genesis params; with retention set, governance
	// txs also change the retention rule now and then.
	params types.Params
	// The gtx ops (determinism_gtx_test.go) draw from grng.
	grng     *rand.Rand
	gtxN     int // gtxs begun
	gtxNonce uint64
	answers  []types.Op // gtx answers sent, to send again
	// Audit anchors (auditanchor_test.go) draw from arng.
	arng        *rand.Rand
	anchorNonce uint64
	// Snapshot interval changes (snapshotinterval_test.go) draw from srng.
	srng          *rand.Rand
	intervalNonce uint64
}

func newWorkload(seed int64) *workload {
	w := &workload{rng: rand.New(rand.NewSource(seed)), grng: rand.New(rand.NewSource(seed + 1<<32)), arng: rand.New(rand.NewSource(seed + 2<<32)), srng: rand.New(rand.NewSource(seed + 3<<32))}
	for i := range 5 {
		k := typestest.Key(fmt.Sprintf("signer%d", i))
		w.signers = append(w.signers, k)
		w.keysOf = append(w.keysOf, []*security.LocalSigner{k})
	}
	for i := range 6 {
		w.vals = append(w.vals, typestest.Key(fmt.Sprintf("val%d", i)))
	}
	return w
}

// genesis: signer0 is the chain-wide admin; org0..org2 are administered by
// signer0..signer2 (k = 2) and run val0..val3.
func (w *workload) genesis() (GenesisState, []Validator) {
	g := DefaultGenesisState()
	g.Admins = []string{types.Address(w.signers[0].PubKey())}
	g.Threshold = 2
	g.Params = w.params
	var vals []Validator
	for i := range 3 {
		g.Orgs = append(g.Orgs, types.Org{ID: fmt.Sprint("org", i), Admins: []string{types.Address(w.signers[i].PubKey())}})
	}
	for i, org := range []int{0, 0, 1, 2} {
		pub := w.vals[i].PubKey()
		g.Orgs[org].Validators = append(g.Orgs[org].Validators, hex.EncodeToString(pub))
		vals = append(vals, Validator{PubKey: pub, Power: 10})
	}
	return g, vals
}

// key is the key identity i signs with: its current one as committed, or
// now and then a retired one.
func (w *workload) key(i int) *security.LocalSigner {
	ks := w.keysOf[i]
	id := types.Address(w.signers[i].PubKey())
	if w.rng.Intn(15) == 0 {
		return ks[w.rng.Intn(len(ks))]
	}
	for j := len(ks) - 1; j >= 0; j-- {
		if got, ok := w.ref.resolve(types.Address(ks[j].PubKey())); ok && got == id {
			return ks[j]
		}
	}
	return ks[0]
}

func (w *workload) userKey() string {
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

// govOp adds or removes a validator or an org; some are refused (unknown
// org, org with validators, last voting power).
func (w *workload) govOp() types.Op {
	org := fmt.Sprint("org", w.rng.Intn(4))
	pub := w.vals[w.rng.Intn(len(w.vals))].PubKey()
	kinds := 4
	if w.params.Retains() {
		kinds = 5
	}
	switch w.rng.Intn(kinds) {
	case 4:
		return types.Op{Sum: &types.Op_SetRetention{SetRetention: &types.SetRetention{
			RetainHeights: uint64(3 + w.rng.Intn(12)), RetainSeconds: uint64(w.rng.Intn(2) * (5 + w.rng.Intn(20))),
		}}}
	case 0:
		return types.Op{Sum: &types.Op_AddValidator{AddValidator: &types.AddValidator{PubKey: pub, Power: 1 + int64(w.rng.Intn(20)), Org: org}}}
	case 1:
		return types.Op{Sum: &types.Op_RemoveValidator{RemoveValidator: &types.RemoveValidator{PubKey: pub}}}
	case 2:
		admin := types.Address(w.signers[3+w.rng.Intn(2)].PubKey())
		return types.Op{Sum: &types.Op_AddOrg{AddOrg: &types.AddOrg{Id: org, Admins: []string{admin}}}}
	}
	return types.Op{Sum: &types.Op_RemoveOrg{RemoveOrg: &types.RemoveOrg{Id: org}}}
}

// rotateOp rotates identity i to a fresh key or, now and then, onto a key
// that is taken (refused).
func (w *workload) rotateOp(t testing.TB, i int, cur *security.LocalSigner) types.Op {
	next := w.signers[w.rng.Intn(len(w.signers))]
	if w.rng.Intn(5) != 0 {
		w.rotated++
		next = typestest.Key(fmt.Sprintf("signer%d-key%d", i, w.rotated))
		w.keysOf[i] = append(w.keysOf[i], next)
	}
	op, err := security.RotateKeyOp(typestest.Chain, cur.PubKey(), next)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// misbehavior is evidence against a random validator key (in the set or not).
func (w *workload) misbehavior(height uint64) []Misbehavior {
	if w.rng.Intn(6) != 0 {
		return nil
	}
	a, err := hex.DecodeString(types.Address(w.vals[w.rng.Intn(len(w.vals))].PubKey()))
	if err != nil {
		panic(err)
	}
	return []Misbehavior{{Type: []string{"duplicate_vote", "light_client_attack"}[w.rng.Intn(2)], Validator: a, Height: max(height-1, 1)}}
}

func (w *workload) tx(t testing.TB, height uint64, versions func(string) types.Version) []byte {
	tx := w.baseTx(t, height, versions)
	if w.grng.Intn(100) < 20 { // a global transaction op instead
		return w.keep(w.gtxTx(t, height))
	}
	return tx
}

func (w *workload) baseTx(t testing.TB, height uint64, versions func(string) types.Version) []byte {
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
	body := types.TxBody{ChainId: typestest.Chain, Nonce: w.nonce, ValidUntilHeight: height + uint64(w.rng.Intn(5))}
	switch {
	case r < 11: // governance, signed by one to three identities
		body.Ops = append(body.Ops, w.govOp())
		var ss []security.Signer
		for _, i := range w.rng.Perm(len(w.signers))[:1+w.rng.Intn(3)] {
			ss = append(ss, w.key(i))
		}
		return w.keep(typestest.SignTx(t, &body, ss...))
	case r < 15: // key rotation
		i := w.rng.Intn(len(w.signers))
		k := w.key(i)
		body.Ops = append(body.Ops, w.rotateOp(t, i, k))
		return w.keep(typestest.SignTx(t, &body, k))
	case r < 25: // a policy change, by the admin (signer0) or, denied, by someone else
		i := 0
		if r < 19 {
			i = 1 + w.rng.Intn(len(w.signers)-1)
		}
		body.Ops = append(body.Ops, w.policyOp())
		return w.keep(typestest.SignTx(t, &body, w.key(i)))
	case r < 28:
		body.ValidUntilHeight = height - 1 // expired
	}
	for range 1 + w.rng.Intn(4) {
		k := w.userKey()
		switch op := w.rng.Intn(10); {
		case op < 5:
			body.Ops = append(body.Ops, typestest.Put(k, fmt.Sprintf("v%d", w.rng.Intn(1000))))
		case op < 7:
			body.Ops = append(body.Ops, typestest.Delete(k))
		case op < 9:
			body.Ops = append(body.Ops, typestest.Check(k, versions(k))) // usually right
		default:
			body.Ops = append(body.Ops, typestest.Check(k, types.Version{Height: uint64(w.rng.Intn(int(height) + 1)), TxIndex: 0}))
		}
	}
	tx := typestest.SignTx(t, &body, w.key(w.rng.Intn(len(w.signers))))
	if w.rng.Intn(30) == 0 { // tamper with the signature
		tx[len(tx)-3] ^= 1
	}
	return w.keep(tx)
}

func (w *workload) keep(tx []byte) []byte {
	w.sent = append(w.sent, tx)
	return tx
}

// block is the next block: txs (some blocks are empty) and evidence.
func (w *workload) block(t testing.TB, h uint64, versions func(string) types.Version) Block {
	var txs [][]byte
	if w.rng.Intn(8) != 0 {
		for range w.rng.Intn(25) {
			txs = append(txs, w.tx(t, h, versions))
		}
	}
	if w.ref != nil && w.arng.Intn(6) == 0 {
		txs = append(txs, w.auditAnchorTx(t, h))
	}
	if w.ref != nil && w.srng.Intn(6) == 0 {
		txs = append(txs, w.snapshotIntervalTx(t, h))
	}
	return Block{Height: h, Time: time.Unix(int64(h), 0), Txs: txs, Misbehavior: w.misbehavior(h)}
}

// TestReplicasAgree feeds the same seeded random blocks (the workload above:
// data, policy, governance, rotation and evidence) to four engines — two on
// in-memory stores, one on Pebble, one restarted every few blocks, with and
// without the verification cache — and requires identical app hashes, tx
// outcomes, validator updates, audit heads and policy decisions at every
// height.
func TestReplicasAgree(t *testing.T) {
	for _, seed := range []int64{1, 2, 3} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { replicasAgree(t, seed, 60, types.Params{}) })
	}
}

// TestReplicasAgreeWithRetention is TestReplicasAgree on chains that prune
// (by heights, by block time, both), with governance txs changing the
// rule: the replicas also agree on the lowest readable height at every
// height, and every one of them pruned.
func TestReplicasAgreeWithRetention(t *testing.T) {
	for seed, p := range map[int64]types.Params{
		4: {RetainHeights: 8},
		5: {RetainSeconds: 12},
		6: {RetainHeights: 5, RetainSeconds: 20},
		7: {RetainHeights: 6, SnapshotInterval: 9},
	} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { replicasAgree(t, seed, 80, p) })
	}
}

func replicasAgree(t *testing.T, seed int64, blocks int, params types.Params) {
	pebbleDir := t.TempDir()
	ps, err := storage.NewPebbleStore(pebbleDir, storage.DefaultPebbleOptions())
	if err != nil {
		t.Fatal(err)
	}
	restartStore := storage.NewInMemoryStore()
	w := newWorkload(seed)
	w.params = params
	genesis, vals := w.genesis()
	state, err := json.Marshal(genesis)
	if err != nil {
		t.Fatal(err)
	}
	open := func(s storage.Store, v Verifier) *Engine { return openEngine(t, s, v, state, vals...) }
	engines := []*Engine{
		open(storage.NewInMemoryStore(), NewCachedVerifier(64)),
		open(storage.NewInMemoryStore(), PlainVerifier{}),
		open(ps, NewCachedVerifier(1<<16)),
		open(restartStore, PlainVerifier{}),
	}
	defer func() { _ = ps.Close() }()
	ref := engines[0]
	w.ref = ref
	versions := committedVersions(ref)
	changes, denied, policyChanges, govChanges, rotations, punished := 0, 0, 0, 0, 0, 0
	snaps := snapshotLog{interval: params.SnapshotInterval}
	for h := uint64(1); h <= uint64(blocks); h++ {
		block := w.block(t, h, versions)
		txs := block.Txs
		// Warm one cache with CheckTx, as a validator's mempool would.
		for _, tx := range txs {
			engines[0].CheckTx(tx)
		}
		before, err := ref.Reader().Validators()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.Misbehavior {
			if slices.ContainsFunc(before, func(v types.ValidatorView) bool { return strings.EqualFold(v.Address, hex.EncodeToString(m.Validator)) }) {
				punished++
			}
		}
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
			if fmt.Sprint(res.ValidatorUpdates) != fmt.Sprint(first.ValidatorUpdates) {
				t.Fatalf("seed %d height %d: engine %d validator updates %v, engine 0 %v", seed, h, i, res.ValidatorUpdates, first.ValidatorUpdates)
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
				_, body, err := types.DecodeTx(txs[i])
				switch {
				case err != nil:
				case types.IsGovOp(&body.Ops[0]):
					govChanges++
				case body.Ops[0].GetRotateKey() != nil:
					rotations++
				case body.Ops[0].GetPut() == nil && body.Ops[0].GetDelete() == nil && body.Ops[0].GetCheck() == nil:
					policyChanges++
				}
			}
		}
		refHead, err := ref.Reader().AuditHead(0)
		if err != nil {
			t.Fatal(err)
		}
		for i, e := range engines[1:] { // identical audit chains
			h, err := e.Reader().AuditHead(0)
			if err != nil || !h.Head.Equal(refHead.Head) || !bytes.Equal(h.StateHash, refHead.StateHash) {
				t.Fatalf("seed %d height %d: engine %d audit head %v, engine 0 %v (%v)", seed, h.Height, i+1, h.Head, refHead.Head, err)
			}
		}
		for i, e := range engines[1:] { // the same policy everywhere, deciding the same way
			if fmt.Sprint(e.Reader().Policy().Rules(), e.Reader().Policy().Grants()) != fmt.Sprint(ref.Reader().Policy().Rules(), ref.Reader().Policy().Grants()) {
				t.Fatalf("seed %d height %d: engine %d has another policy", seed, h, i+1)
			}
			for _, s := range w.signers {
				sub := types.Address(s.PubKey())
				for _, k := range w.keys() {
					for _, act := range []string{"read", "write"} {
						if a, b := e.Reader().Policy().Allowed(sub, k[:2], k, act), ref.Reader().Policy().Allowed(sub, k[:2], k, act); a != b {
							t.Fatalf("seed %d height %d: engine %d decides %s %s %s = %v, engine 0 %v\nrules %v\ngrants %v", seed, h, i+1, sub, act, k, a, b, ref.Reader().Policy().Rules(), ref.Reader().Policy().Grants())
						}
					}
				}
			}
		}
		agreeOnFloor(t, engines, h)
		agreeOnAuditFloor(t, engines, h)
		agreeOnSnapshots(t, engines, h, first.AppHash)
		snaps.note(ref, h)
		gtxAgree(t, seed, h, engines, types.Address(w.signers[0].PubKey()))
		if h%7 == 0 { // restart engine 3 over its store
			engines[3] = open(restartStore, PlainVerifier{})
		}
	}
	if changes == 0 || denied == 0 || policyChanges == 0 || govChanges == 0 || rotations == 0 || punished == 0 {
		t.Fatalf("seed %d: writes %d, denials %d, policy changes %d, governance changes %d, rotations %d, punished %d: the workload must exercise all of them",
			seed, changes, denied, policyChanges, govChanges, rotations, punished)
	}
	committed, aborted, deadlines := gtxOutcomes(t, ref, types.Address(w.signers[0].PubKey()))
	if committed == 0 || aborted == 0 || deadlines == 0 {
		t.Fatalf("seed %d: gtxs committed %d, aborted %d, rolled back at the deadline %d: the workload must exercise all of them", seed, committed, aborted, deadlines)
	}
	t.Logf("seed %d: %d writing txs, %d denied, %d policy changes, %d governance changes, %d rotations, %d punished; gtxs: %d committed, %d aborted (%d at the deadline)",
		seed, changes, denied, policyChanges, govChanges, rotations, punished, committed, aborted, deadlines)
	if params.Retains() {
		wantPruned(t, engines)
	}
	logAuditFloor(t, seed, ref)
	snaps.check(t, seed)
	// Every replica reads the same values.
	for _, key := range w.keys() {
		want, werr := ref.Reader().Get(key, 0)
		for i, e := range engines[1:] {
			got, gerr := e.Reader().Get(key, 0)
			if (werr == nil) != (gerr == nil) || string(got.Value) != string(want.Value) || got.Version != want.Version {
				t.Fatalf("key %s: engine %d has %v/%v, engine 0 %v/%v", key, i+1, got, gerr, want, werr)
			}
		}
	}
}

// agreeOnFloor: every replica has pruned to the same height.
func agreeOnFloor(t *testing.T, engines []*Engine, h uint64) {
	t.Helper()
	want, err := engines[0].Reader().Floor()
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range engines[1:] {
		if got, err := e.Reader().Floor(); err != nil || got != want {
			t.Fatalf("height %d: engine %d lowest readable height %d (%v), engine 0 %d", h, i+1, got, err, want)
		}
	}
}

// wantPruned: every replica pruned, and answers ErrPruned below its floor.
func wantPruned(t *testing.T, engines []*Engine) {
	t.Helper()
	for i, e := range engines {
		floor, err := e.Reader().Floor()
		if err != nil || floor < 2 {
			t.Fatalf("engine %d: lowest readable height %d (%v): want pruning", i, floor, err)
		}
		if _, err := e.Reader().Get("d0/k0", floor-1); !errors.Is(err, ErrPruned) {
			t.Fatalf("engine %d: read below the floor %d: %v, want ErrPruned", i, floor, err)
		}
		if _, err := e.Reader().AuditHead(1); err != nil {
			t.Fatalf("engine %d: audit head at height 1 after pruning: %v", i, err)
		}
	}
}
