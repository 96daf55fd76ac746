package engine

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security/verify"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// Errors from the engine's Go API (the second error tier: faults, not bad
// transactions, which get a types.Code).
var (
	ErrNotInitialised = errors.New("abci: chain not initialised (no genesis state in the store)")
	ErrStaged         = errors.New("abci: a finalized block is waiting for Commit")
	ErrNothingStaged  = errors.New("abci: Commit without FinalizeBlock")
	ErrHeight         = errors.New("abci: block height out of order")
	ErrGenesis        = errors.New("abci: genesis state differs from the stored one")
)

// Verifier checks ed25519 signatures in bulk. Its answers must be a pure
// function of the input: it may use goroutines or a cache inside, but its
// answer for an item is the same as verify.Signature's. StartBatch returns
// at once and answers item by item, so FinalizeBlock executes the first
// txs of a block while the signatures of the later ones are checked.
type Verifier interface {
	VerifyBatch(items []verify.Item) []bool
	StartBatch(items []verify.Item) Verdicts
}

// Verdicts are the answers of a Verifier's StartBatch: Wait(i) reports
// whether item i's signature holds, waiting for it if need be. It is called
// from one goroutine, and the items must not change until every item the
// caller needs has been waited for.
type Verdicts interface {
	Wait(i int) bool
}

// Block is the engine's input: a decided block.
type Block struct {
	Height      uint64
	Time        time.Time
	Txs         [][]byte
	Misbehavior []Misbehavior
}

// Outcome is the result of one tx.
type Outcome struct {
	Code   types.Code
	Log    string        // in words, for the validator's own log; never hashed
	Reason *types.Reason // why it failed, as data
	Hash   []byte
	Signer string
	Writes []types.Write
	// Result is the encoded types.TxResult (no log): what state keeps for
	// an authentic tx, and ExecTxResult.data (CometBFT hashes it).
	Result []byte
}

// BlockResult is the engine's output for a block.
type BlockResult struct {
	Txs              []Outcome
	AppHash          []byte
	ValidatorUpdates []ValidatorUpdate
}

// chainRecord is what genesis stores under paramsKey.
type chainRecord struct {
	ChainID string       `json:"chain_id"`
	Params  types.Params `json:"params"`
	// Open: genesis named no admins, so access control is off.
	Open bool     `json:"open,omitempty"`
	Gov  govState `json:"gov"`
}

// Engine is the deterministic state machine. It is not safe for concurrent
// use: its caller (the ABCI adapter) serialises calls. It uses nothing but
// its inputs and the store: no clock, randomness or goroutines.
type Engine struct {
	store    storage.Store
	verifier Verifier
	chainID  string
	params   types.Params
	policy   *rbac.Policy // committed (queries, CheckTx, proposals)
	// blockPolicy is policy plus the staged block's changes (staging.go).
	blockPolicy *rbac.Policy
	open        bool                 // no admins at genesis: every signer may do everything
	keys        map[string]keyRecord // committed: key address -> identity, for rotated identities
	gov         govState
	height      uint64
	appHash     []byte
	stateHash   []byte           // hash chain over state writes (see audit.go)
	head        audit.ChainHead  // the consensus audit chain's head
	headHeight  uint64           // the block that appended the head entry (committime.go)
	lastDigest  uint64           // the last height whose state hash is a state digest (snapshot.go)
	pruning     bool             // a pruning pass is under way (retention.go)
	replay      *replayIndex     // replay ids committed inside the replay window
	txs         *txCache         // txs decoded and verified (nil: none kept; txcache.go)
	gtxOpen     map[string]int64 // committed open gtxs: gid -> deadline (gtx.go)
	staged      *staged
}

// staged is a finalized block waiting for Commit.
type staged struct {
	replayIDs  [][32]byte // replay ids recorded in this block (for the replay index)
	height     uint64
	time       time.Time // the block's time (retention.go)
	appHash    []byte
	stateHash  []byte
	head       audit.ChainHead
	headHeight uint64
	digest     []byte // the state digest, at a snapshot height (snapshot.go)
	valUpdates []ValidatorUpdate
	writes     []storage.Entry
	latest     map[string]int       // storage key -> index in writes of its newest staged write
	policyLog  []policyChange       // policy changes, in order (made to blockPolicy)
	keys       map[string]keyRecord // key records the block changed (over e.keys)
	gtxOpen    map[string]gtxOpenChange
	gtxEvents  []gtxEvent // gtx transitions, for the audit chain
}

// NewEngine opens the engine over store. A store without genesis state is
// fine: InitChain will write it. A store never committed to (no app hash:
// every commit of the engine, genesis included, has one) is read as empty,
// whatever a restore that did not finish left in it (the next restore
// clears that).
func NewEngine(store storage.Store, v Verifier) (*Engine, error) {
	e := &Engine{store: store, verifier: v, params: types.DefaultParams(), policy: rbac.New(), blockPolicy: rbac.New(), keys: map[string]keyRecord{}}
	if cv, ok := v.(*CachedVerifier); ok {
		e.txs = cv.txs
	}
	h, hash, err := store.Last()
	if err != nil {
		return nil, fmt.Errorf("abci: open engine: %w", err)
	}
	if h == 0 && len(hash) == 0 {
		// Load what an empty store gives, then go on over store.
		e.store = storage.NewInMemoryStore()
		defer func() { e.store = store }()
	}
	rec, ok, err := e.loadChainRecord()
	if err != nil {
		return nil, err
	}
	if ok {
		e.chainID, e.params, e.open, e.gov = rec.ChainID, rec.Params, rec.Open, rec.Gov
	}
	if err := e.loadPolicy(); err != nil {
		return nil, err
	}
	if err := e.loadKeys(); err != nil {
		return nil, err
	}
	if err := e.loadHead(); err != nil {
		return nil, err
	}
	if err := e.loadGtxOpen(); err != nil {
		return nil, err
	}
	e.height, e.appHash = h, hash
	if err := e.loadReplayIndex(); err != nil {
		return nil, fmt.Errorf("abci: load replay index: %w", err)
	}
	if err := e.loadDigest(); err != nil {
		return nil, err
	}
	if err := e.dropPrunedAudit(); err != nil {
		return nil, err
	}
	return e, nil
}

// loadPolicy rebuilds the access-control policy from committed state.
func (e *Engine) loadPolicy() error {
	var bad []byte
	err := e.store.Scan([]byte{nsRBAC}, 0, func(ent storage.Entry) bool {
		rule, grant, ok := decodePolicyKey(ent.Key)
		var c policyChange
		switch {
		case !ok:
			bad = ent.Key
			return false
		case rule != nil:
			c = addRule(*rule)
		default:
			c = addGrant(*grant)
		}
		if c.mustApply(e.policy, false) != nil || c.mustApply(e.blockPolicy, false) != nil {
			bad = ent.Key
			return false
		}
		return true
	})
	if err != nil {
		return fmt.Errorf("abci: load policy: %w", err)
	}
	if bad != nil {
		return fmt.Errorf("abci: load policy: bad stored line %q", bad)
	}
	return nil
}

func (e *Engine) loadChainRecord() (chainRecord, bool, error) {
	var rec chainRecord
	ent, ok, err := e.store.Get(paramsKey, 0)
	if err != nil || !ok {
		return rec, false, err
	}
	if err := json.Unmarshal(ent.Value, &rec); err != nil {
		return rec, false, fmt.Errorf("abci: stored params: %w", err)
	}
	return rec, true, nil
}

// Initialised reports whether genesis state is in the store.
func (e *Engine) Initialised() bool { return e.chainID != "" }

// Height is the last committed height.
func (e *Engine) Height() uint64 { return e.height }

// AppHash is the last committed app hash.
func (e *Engine) AppHash() []byte { return bytes.Clone(e.appHash) }

// ChainID is the chain id from genesis.
func (e *Engine) ChainID() string { return e.chainID }

// InitChain writes genesis state and returns the genesis app hash. Called
// again with the same genesis (a crash before block 1) it changes nothing.
func (e *Engine) InitChain(chainID string, appState []byte, validators ...Validator) ([]byte, error) {
	if chainID == "" {
		return nil, fmt.Errorf("%w: empty chain id", ErrGenesis)
	}
	g, err := DecodeGenesisState(appState)
	if err != nil {
		return nil, err
	}
	rules, grants, err := genesisPolicy(g)
	if err != nil {
		return nil, err
	}
	open := len(grants) == 0
	gov := govState{Threshold: g.Threshold}
	val, err := json.Marshal(chainRecord{ChainID: chainID, Params: g.Params, Open: open, Gov: gov})
	if err != nil {
		return nil, err
	}
	writes := []storage.Entry{{Key: paramsKey, Value: val}}
	for _, r := range rules {
		writes = append(writes, storage.Entry{Key: ruleKey(r), Value: []byte{}})
	}
	for _, gr := range grants {
		writes = append(writes, storage.Entry{Key: grantKey(gr), Value: []byte{}})
	}
	govWrites, err := genesisGov(g, validators)
	if err != nil {
		return nil, err
	}
	writes = append(writes, govWrites...)
	stateHash := nextStateHash(nil, 0, writes)
	writes = append(writes, storage.Entry{Key: headKey, Value: encodeHeadRecord(stateHash, audit.ChainHead{})})
	hash := audit.AppHash(stateHash, audit.ChainHead{})
	if e.Initialised() {
		if e.height != 0 || !bytes.Equal(e.appHash, hash) {
			return nil, fmt.Errorf("%w (stored chain %q at height %d)", ErrGenesis, e.chainID, e.height)
		}
		return e.AppHash(), nil
	}
	if err := e.store.Commit(storage.Batch{Height: 0, AppHash: hash, Writes: writes}); err != nil {
		return nil, fmt.Errorf("abci: write genesis: %w", err)
	}
	var changes []policyChange
	for _, r := range rules {
		changes = append(changes, addRule(r))
	}
	for _, gr := range grants {
		changes = append(changes, addGrant(gr))
	}
	for _, c := range changes {
		if _, err := c.applyTo(e.policy, false); err != nil {
			return nil, err
		}
		if _, err := c.applyTo(e.blockPolicy, false); err != nil {
			return nil, err
		}
	}
	e.chainID, e.params, e.open, e.gov, e.height, e.appHash = chainID, g.Params, open, gov, 0, hash
	e.stateHash, e.head = stateHash, audit.ChainHead{}
	return e.AppHash(), nil
}

// genesisPolicy is the bootstrap policy: the admin role may do everything;
// genesis admins hold it in every domain, org admins in their org's domain.
func genesisPolicy(g GenesisState) ([]rbac.Rule, []rbac.Grant, error) {
	var grants []rbac.Grant
	add := func(addr, dom string) error {
		if !isAddress(addr) {
			return fmt.Errorf("%w: admin %q is not an address (40 lowercase hex digits; see dstt keys show)", ErrGenesis, addr)
		}
		grants = append(grants, rbac.Grant{Subject: addr, Role: rbac.AdminRole, Domain: dom})
		return nil
	}
	for _, a := range g.Admins {
		if err := add(a, rbac.AllDomains); err != nil {
			return nil, nil, err
		}
	}
	for _, o := range g.Orgs {
		for _, a := range o.Admins {
			if err := add(a, o.ID); err != nil {
				return nil, nil, err
			}
		}
	}
	if len(grants) == 0 {
		return nil, nil, nil
	}
	return []rbac.Rule{{Subject: rbac.AdminRole, Domain: rbac.AllDomains, Object: "*", Action: rbac.ActAll}}, grants, nil
}

// genesisGov writes the member orgs and the genesis validators (with the
// org that lists each one's public key).
func genesisGov(g GenesisState, validators []Validator) ([]storage.Entry, error) {
	var writes []storage.Entry
	orgOf := map[string]string{}
	nodeOrg := map[string]string{}
	for _, o := range g.Orgs {
		o, nodes, err := genesisNodes(o, nodeOrg)
		if err != nil {
			return nil, err
		}
		writes = append(writes, nodes...)
		b, err := json.Marshal(o)
		if err != nil {
			return nil, err
		}
		writes = append(writes, storage.Entry{Key: prefixed(nsOrg, o.ID), Value: b})
		for _, v := range o.Validators {
			orgOf[strings.ToLower(v)] = o.ID
		}
	}
	for _, v := range validators {
		pk := hex.EncodeToString(v.PubKey)
		b, err := json.Marshal(validatorRecord{PubKey: pk, Power: v.Power, Org: orgOf[pk]})
		if err != nil {
			return nil, err
		}
		writes = append(writes, storage.Entry{Key: validatorKey(v.PubKey), Value: b})
	}
	return writes, nil
}

func isAddress(s string) bool { return types.IsAddress(s) }

// nextStateHash folds one block's state writes into the state hash (audit
// records are left out: the audit head enters the app hash on its own). A
// block that writes nothing keeps the hash, so empty blocks never change it.
func nextStateHash(prev []byte, height uint64, writes []storage.Entry) []byte {
	if len(writes) == 0 && prev != nil {
		return prev
	}
	h := sha256.New()
	h.Write([]byte("dstt/apphash/v1\x00"))
	h.Write(prev)
	var buf [binary.MaxVarintLen64]byte
	put := func(x uint64) { h.Write(buf[:binary.PutUvarint(buf[:], x)]) }
	put(height)
	for _, w := range writes {
		if isDerived(w.Key) {
			continue
		}
		put(uint64(len(w.Key)))
		h.Write(w.Key)
		put(w.Version.Height)
		put(uint64(w.Version.Index))
		if w.Deleted {
			h.Write([]byte{1})
			continue
		}
		h.Write([]byte{0})
		put(uint64(len(w.Value)))
		h.Write(w.Value)
	}
	return h.Sum(nil)
}

// CheckTx decides whether a tx may enter the mempool, against committed
// state, as if it were to be committed in the next block.
func (e *Engine) CheckTx(txBytes []byte) Outcome {
	if !e.Initialised() {
		return Outcome{Code: types.CodeInternal, Log: "node has no genesis state yet"}
	}
	d := e.decode(txBytes)
	if d.code == types.CodeOK {
		e.verifyAll([]*decodedTx{d})
	}
	if d.code == types.CodeOK {
		e.resolveSigners(nil, d)
	}
	if d.code == types.CodeOK {
		e.checkWindow(d, e.height+1)
	}
	if d.code == types.CodeOK {
		e.authorize(nil, d)
	}
	if d.code == types.CodeOK {
		if err := e.authorizeGov(nil, d); err != nil {
			d.fail(types.CodeInternal, "governance check failed")
		}
	}
	if d.code == types.CodeOK {
		if err := e.checkGtxOps(d); err != nil {
			d.fail(types.CodeInternal, "gtx check failed")
		}
	}
	if d.code == types.CodeOK {
		if err := e.checkAuditAnchors(d); err != nil {
			d.fail(types.CodeInternal, "audit anchor check failed")
		}
	}
	if d.code == types.CodeOK {
		e.checkReplay(nil, d)
	}
	return Outcome{Code: d.code, Log: d.log, Hash: d.hash, Signer: d.signer}
}

// validateProposal runs every check a tx must pass to be worth including in
// a block at height; it returns one decoded tx per input, in order.
func (e *Engine) validateProposal(height uint64, txs [][]byte) []*decodedTx {
	ds := make([]*decodedTx, len(txs))
	for i, tx := range txs {
		ds[i] = e.decode(tx)
	}
	e.verifyAll(ds)
	seen := make(map[[32]byte]bool, len(ds))
	for _, d := range ds {
		if d.code != types.CodeOK {
			continue
		}
		e.resolveSigners(nil, d)
		if d.code == types.CodeOK {
			e.checkWindow(d, height)
		}
		if d.code == types.CodeOK {
			e.checkReplay(nil, d)
		}
		// A governance tx without k-of-n approvals as of committed state
		// is left out of blocks: otherwise anyone who saw it in the
		// mempool could strip co-signatures and commit the failing
		// variant, spending the signed body's replay identity.
		if d.code == types.CodeOK && slices.ContainsFunc(d.body.Ops, func(op types.Op) bool { return types.IsGovOp(&op) }) {
			if err := e.authorizeGov(nil, d); err != nil {
				d.fail(types.CodeInternal, "governance check failed")
			}
		}
		if d.code != types.CodeOK {
			continue
		}
		// Only a tx that passed every check takes its replay identity in
		// this block, so a refused variant cannot crowd out the real tx.
		if seen[d.id] {
			d.fail(types.CodeReplay, "a tx with this signed body (replay id %X) appears twice in the block", d.id)
			continue
		}
		seen[d.id] = true
	}
	return ds
}

// PrepareProposal keeps, in order, the txs that can be valid at height and
// fit in maxBytes (maxBytes <= 0: no limit).
func (e *Engine) PrepareProposal(height uint64, txs [][]byte, maxBytes int64) [][]byte {
	ds := e.validateProposal(height, txs)
	out := make([][]byte, 0, len(txs))
	var total int64
	for i, d := range ds {
		if d.code != types.CodeOK {
			continue
		}
		if maxBytes > 0 && total+int64(len(txs[i])) > maxBytes {
			break
		}
		total += int64(len(txs[i]))
		out = append(out, txs[i])
	}
	return out
}

// ProcessProposal accepts a proposed block only if every tx in it can be
// valid; otherwise it returns the index and reason of the first bad one.
func (e *Engine) ProcessProposal(height uint64, txs [][]byte) (bool, string) {
	for i, d := range e.validateProposal(height, txs) {
		if d.code != types.CodeOK {
			return false, fmt.Sprintf("tx %d: %s", i, d.log)
		}
	}
	return true, ""
}
