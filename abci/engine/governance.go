package engine

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// Consortium governance: member organisations and the validator set change
// only through txs signed by admins of k distinct orgs (k-of-n; k from
// genesis, default a majority). Evidence of misbehaviour that CometBFT
// reports zeroes the offender's power.
//
// State: nsOrg + id -> JSON types.Org; nsValidator + address -> JSON
// validatorRecord; nsEvidence + height + index -> JSON evidenceRecord.
const (
	nsOrg       = 'o'
	nsValidator = 'v'
	nsEvidence  = 'e'
)

// Validator is a validator as the engine sees it.
type Validator struct {
	PubKey []byte // ed25519
	Power  int64
}

// ValidatorUpdate is a change FinalizeBlock hands back to CometBFT.
type ValidatorUpdate = Validator

// Misbehavior is evidence CometBFT reports in a block.
type Misbehavior struct {
	Type      string // "duplicate_vote" or "light_client_attack"
	Validator []byte // CometBFT validator address (20 bytes)
	Height    uint64
}

// evidenceRecord is what the chain keeps of a punished misbehaviour.
type evidenceRecord struct {
	Type      string `json:"type"`
	Validator string `json:"validator"` // address, hex
	Height    uint64 `json:"height"`
	Block     uint64 `json:"block"`
	PowerWas  int64  `json:"power_was"`
}

type validatorRecord struct {
	PubKey string `json:"pub_key"` // hex
	Power  int64  `json:"power"`
	Org    string `json:"org,omitempty"`
}

// threshold is k: the genesis setting, or a majority of the member orgs as
// the block sees them.
func (e *Engine) threshold(st *staged) (int, error) {
	if e.gov.Threshold > 0 {
		return int(e.gov.Threshold), nil
	}
	n := 0
	err := e.scanOrgs(st, func(types.Org) { n++ })
	return n/2 + 1, err
}

// govState is the genesis governance setting kept in the chain record.
type govState struct {
	Threshold uint32 `json:"threshold,omitempty"`
}

// orgsOfSigners lists the orgs d's signatures approve for, in id order
// (types.ApprovingOrgs over the distinct signing identities, in signature
// order). A retired key approves for none.
func (e *Engine) orgsOfSigners(st *staged, d *decodedTx) ([]string, error) {
	var signers []string // distinct identities, in signature order
	for _, s := range d.tx.Signatures {
		if id, ok := e.resolveAt(st, types.Address(s.PubKey)); ok && !slices.Contains(signers, id) {
			signers = append(signers, id)
		}
	}
	var orgs []types.Org
	if err := e.scanOrgs(st, func(o types.Org) { orgs = append(orgs, o) }); err != nil {
		return nil, err
	}
	return types.ApprovingOrgs(signers, orgs), nil
}

// scanOrgs calls fn for every org, in id order, as the block sees them.
func (e *Engine) scanOrgs(st *staged, fn func(types.Org)) error {
	seen := map[string]bool{}
	var all []types.Org
	if st != nil { // staged orgs first: they override committed ones
		for i := len(st.writes) - 1; i >= 0; i-- {
			w := st.writes[i]
			if len(w.Key) == 0 || w.Key[0] != nsOrg || seen[string(w.Key)] {
				continue
			}
			seen[string(w.Key)] = true
			if w.Deleted {
				continue
			}
			var o types.Org
			if err := json.Unmarshal(w.Value, &o); err != nil {
				return err
			}
			all = append(all, o)
		}
	}
	var bad error
	err := e.store.Scan([]byte{nsOrg}, 0, func(ent storage.Entry) bool {
		if seen[string(ent.Key)] {
			return true
		}
		var o types.Org
		if bad = json.Unmarshal(ent.Value, &o); bad != nil {
			return false
		}
		all = append(all, o)
		return true
	})
	if err != nil {
		return err
	}
	if bad != nil {
		return bad
	}
	slices.SortFunc(all, func(a, b types.Org) int { return strings.Compare(a.ID, b.ID) })
	for _, o := range all {
		fn(o)
	}
	return nil
}

func (e *Engine) readJSON(st *staged, key []byte, v any) (bool, error) {
	ent, ok, err := e.read(st, key)
	if err != nil || !ok || ent.Deleted {
		return false, err
	}
	return true, json.Unmarshal(ent.Value, v)
}

func (e *Engine) putJSON(st *staged, key []byte, v any, ver storage.Version) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	st.put(storage.Entry{Key: key, Value: b, Version: ver})
	return nil
}

func validatorKey(pub []byte) []byte { return prefixed(nsValidator, types.Address(pub)) }

// checkGovOp validates a governance op's fields (stateless).
func checkGovOp(op *types.Op) (types.Code, string) {
	switch o := op.Sum.(type) {
	case *types.Op_AddValidator:
		if o.AddValidator == nil || len(o.AddValidator.PubKey) != 32 || o.AddValidator.Power <= 0 || o.AddValidator.Org == "" {
			return types.CodeInvalidOp, "add_validator needs a 32-byte ed25519 pub_key, a power above 0 and an org"
		}
	case *types.Op_RemoveValidator:
		if o.RemoveValidator == nil || len(o.RemoveValidator.PubKey) != 32 {
			return types.CodeInvalidOp, "remove_validator needs a 32-byte ed25519 pub_key"
		}
	case *types.Op_AddOrg:
		if o.AddOrg == nil || len(o.AddOrg.Admins) == 0 {
			return types.CodeInvalidOp, "add_org needs an id and at least one admin address"
		}
		if err := (rbac.Grant{Subject: "x", Role: "x", Domain: o.AddOrg.Id}).Validate(); err != nil || o.AddOrg.Id == rbac.AllDomains {
			return types.CodeInvalidOp, fmt.Sprintf("org id %q: want 1-128 characters of A-Z a-z 0-9 . _ : @ -", o.AddOrg.Id)
		}
		for _, a := range o.AddOrg.Admins {
			if !isAddress(a) {
				return types.CodeInvalidOp, fmt.Sprintf("org admin %q is not an address", a)
			}
		}
	case *types.Op_RemoveOrg:
		if o.RemoveOrg == nil || o.RemoveOrg.Id == "" {
			return types.CodeInvalidOp, "remove_org needs an id"
		}
	}
	return types.CodeOK, ""
}

// authorizeGov runs the authorisation that takes more than one policy
// decision per op: the lockout rules for policy ops (authorizeLockout), and
// signatures from admins of k distinct orgs, one org per signer, when the tx
// holds a governance op. Called after authorize, against the policy before
// the tx.
func (e *Engine) authorizeGov(st *staged, d *decodedTx) error {
	if !slices.ContainsFunc(d.body.Ops, func(op types.Op) bool { return types.IsGovOp(&op) }) {
		return nil
	}
	orgs, err := e.orgsOfSigners(st, d)
	if err != nil {
		return err
	}
	k, err := e.threshold(st)
	if err != nil {
		return err
	}
	if len(orgs) < k {
		d.failAt(types.CodeUnauthorized, types.Reason{Rule: ruleGovThreshold, Need: uint32(k), Have: uint32(len(orgs))}, "governance needs signatures from admins of %d distinct member orgs; this tx has %d (%s)", k, len(orgs), strings.Join(orgs, ", "))
	}
	return nil
}

// authorizeLockout applies rbac's lockout rules (rbac.Policy.CheckGrant,
// CheckRevoke, CheckRule) to d's policy ops: only a chain-wide admin may
// make a chain-wide admin, revoke one's grants, or add a deny rule aimed at
// one. A refusal is UNAUTHORIZED.
func (e *Engine) authorizeLockout(st *staged, d *decodedTx) {
	if e.open {
		return
	}
	p := e.policyAt(st)
	for i := range d.body.Ops {
		var err error
		switch o := d.body.Ops[i].Sum.(type) {
		case *types.Op_Grant:
			err = p.CheckGrant(d.signer, grantOf(o.Grant.Subject, o.Grant.Role, o.Grant.Domain))
		case *types.Op_Revoke:
			err = p.CheckRevoke(d.signer, grantOf(o.Revoke.Subject, o.Revoke.Role, o.Revoke.Domain))
		case *types.Op_Policy:
			if !o.Policy.Remove {
				err = p.CheckRule(d.signer, ruleOf(o.Policy))
			}
		}
		if err != nil {
			d.failAt(types.CodeUnauthorized, opReason(ruleLockout, i, ""), "op %d: %v", i, err)
			return
		}
	}
}

// checkValidatorChange dry-runs this block's validator changes, with pub's
// power set to power, through CometBFT's own validator-set code on a copy of
// the committed set: CometBFT applies a block's updates to the set as it
// stood before the block (NextValidators), all at once, and halts for good
// if they fail. It returns why CometBFT would refuse them, or "".
func (e *Engine) checkValidatorChange(st *staged, pub []byte, power int64) (string, error) {
	var base []*cmttypes.Validator
	if err := e.scanValidators(nil, func(p []byte, r validatorRecord) {
		base = append(base, cmttypes.NewValidator(cmted25519.PubKey(p), r.Power))
	}); err != nil {
		return "", err
	}
	set := &cmttypes.ValidatorSet{}
	if err := set.UpdateWithChangeSet(base); err != nil {
		return "", fmt.Errorf("abci: the committed validator set is not one CometBFT accepts: %w", err)
	}
	changes := make([]*cmttypes.Validator, 0, len(st.valUpdates)+1)
	found := false
	for _, u := range st.valUpdates {
		p := u.Power
		if bytes.Equal(u.PubKey, pub) {
			p, found = power, true
		}
		changes = append(changes, cmttypes.NewValidator(cmted25519.PubKey(u.PubKey), p))
	}
	if !found {
		changes = append(changes, cmttypes.NewValidator(cmted25519.PubKey(pub), power))
	}
	if err := set.UpdateWithChangeSet(changes); err != nil {
		return err.Error(), nil
	}
	if n := set.Size(); n > cmttypes.MaxVotesCount {
		return fmt.Sprintf("the set would have %d validators; CometBFT's limit is %d", n, cmttypes.MaxVotesCount), nil
	}
	return "", nil
}

// applyGovOp executes one governance op; a refusal fails d (INVALID_OP).
func (e *Engine) applyGovOp(st *staged, d *decodedTx, i int, ver storage.Version) error {
	switch o := d.body.Ops[i].Sum.(type) {
	case *types.Op_AddValidator:
		return e.applyAddValidator(st, d, i, ver, o.AddValidator)
	case *types.Op_RemoveValidator:
		return e.applyRemoveValidator(st, d, i, ver, o.RemoveValidator)
	case *types.Op_AddOrg:
		return e.applyAddOrg(st, d, i, ver, o.AddOrg)
	case *types.Op_RemoveOrg:
		return e.applyRemoveOrg(st, d, i, ver, o.RemoveOrg)
	case *types.Op_SetRetention:
		return e.applySetRetention(st, ver, o.SetRetention)
	case *types.Op_AuditAnchor:
		return e.applyAuditAnchor(st, d, i, ver, o.AuditAnchor)
	case *types.Op_SetSnapshotInterval:
		return e.applySetSnapshotInterval(st, ver, o.SetSnapshotInterval)
	case *types.Op_RegisterNode, *types.Op_RemoveNode:
		return e.applyNodeOp(st, d, i, ver)
	}
	return nil
}

// ensureAdminRule makes sure the admin role's rule exists (a chain that
// started without admins gets it with its first org).
func (e *Engine) ensureAdminRule(st *staged, ver storage.Version) error {
	r := rbac.Rule{Subject: rbac.AdminRole, Domain: rbac.AllDomains, Object: "*", Action: rbac.ActAll}
	added, err := e.stagePolicy(st, addRule(r))
	if added {
		st.put(storage.Entry{Key: ruleKey(r), Value: []byte{}, Version: ver})
	}
	return err
}

// scanValidators calls fn for every validator with power, as the block
// sees them, in address order.
func (e *Engine) scanValidators(st *staged, fn func(pub []byte, r validatorRecord)) error {
	return e.scanStaged(st, nsValidator, func(key, value []byte) error {
		var r validatorRecord
		if err := json.Unmarshal(value, &r); err != nil {
			return err
		}
		pub, err := hex.DecodeString(r.PubKey)
		if err != nil {
			return fmt.Errorf("abci: stored validator %X: %w", key, err)
		}
		fn(pub, r)
		return nil
	})
}

// scanStaged calls fn with the key and value of every live entry of namespace
// ns as the block sees it (committed state with st's writes over it; committed
// state alone when st is nil), in key order. fn's error stops the scan.
func (e *Engine) scanStaged(st *staged, ns byte, fn func(key, value []byte) error) error {
	vals := map[string][]byte{}
	if err := e.store.Scan([]byte{ns}, 0, func(ent storage.Entry) bool {
		vals[string(ent.Key)] = ent.Value
		return true
	}); err != nil {
		return err
	}
	if st != nil {
		for _, w := range st.writes {
			if len(w.Key) == 0 || w.Key[0] != ns {
				continue
			}
			if w.Deleted {
				delete(vals, string(w.Key))
			} else {
				vals[string(w.Key)] = w.Value
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(vals)) {
		if err := fn([]byte(k), vals[k]); err != nil {
			return err
		}
	}
	return nil
}

// memberOrg reads org id as the block sees it; when it is no member, it fails
// d for op i (INVALID_OP, no_org) and ok is false.
func (e *Engine) memberOrg(st *staged, d *decodedTx, i int, id string) (org types.Org, ok bool, err error) {
	ok, err = e.readJSON(st, prefixed(nsOrg, id), &org)
	if err == nil && !ok {
		d.failAt(types.CodeInvalidOp, opReason(ruleNoOrg, i, id), "op %d: no member org %q", i, id)
	}
	return org, ok, err
}

func (e *Engine) totalPower(st *staged) (int64, error) {
	var total int64
	err := e.scanValidators(st, func(_ []byte, r validatorRecord) { total += r.Power })
	return total, err
}

// punish zeroes the power of validators with evidence against them, keeping
// at least one validator with power.
func (e *Engine) punish(st *staged, b *Block) ([]audit.Entry, error) {
	var entries []audit.Entry
	for i, ev := range b.Misbehavior {
		var pub []byte
		var rec validatorRecord
		if err := e.scanValidators(st, func(p []byte, r validatorRecord) {
			if strings.EqualFold(types.Address(p), hex.EncodeToString(ev.Validator)) {
				pub, rec = p, r
			}
		}); err != nil {
			return nil, err
		}
		if pub == nil {
			continue // already removed
		}
		entries = append(entries, audit.Entry{
			Height: b.Height, Time: b.Time, Kind: audit.KindEvidence, Action: "punish",
			// Data, not words: the evidence record in state has the rest.
			Resources: []string{"validator:" + types.Address(pub), fmt.Sprintf("evidence:%s@%d", ev.Type, ev.Height)},
		})
		ver := storage.Version{Height: st.height, Index: uint32(i)}
		evKey := append([]byte{nsEvidence}, fmt.Sprintf("%020d/%04d", st.height, i)...)
		if err := e.putJSON(st, evKey, evidenceRecord{Type: ev.Type, Validator: types.Address(pub), Height: ev.Height, Block: st.height, PowerWas: rec.Power}, ver); err != nil {
			return nil, err
		}
		total, err := e.totalPower(st)
		if err != nil {
			return nil, err
		}
		if total-rec.Power <= 0 {
			continue // never remove the last voting power; the record stands
		}
		st.put(storage.Entry{Key: validatorKey(pub), Deleted: true, Version: ver})
		st.update(pub, 0)
	}
	return entries, nil
}

// update records a validator change for CometBFT; the last one per key in
// a block wins, in the order keys were first changed.
func (st *staged) update(pub []byte, power int64) {
	for i := range st.valUpdates {
		if string(st.valUpdates[i].PubKey) == string(pub) {
			st.valUpdates[i].Power = power
			return
		}
	}
	st.valUpdates = append(st.valUpdates, ValidatorUpdate{PubKey: slices.Clone(pub), Power: power})
}

// Validators lists the committed validator set.
func (r Reader) Validators() ([]types.ValidatorView, error) {
	e := r.e
	var out []types.ValidatorView
	err := e.scanValidators(nil, func(pub []byte, r validatorRecord) {
		out = append(out, types.ValidatorView{Address: strings.ToUpper(types.Address(pub)), PubKey: r.PubKey, Power: r.Power, Org: r.Org})
	})
	return out, err
}

// Orgs lists the committed member organisations, and the threshold k.
func (r Reader) Orgs() ([]types.Org, int, error) {
	e := r.e
	var out []types.Org
	if err := e.scanOrgs(nil, func(o types.Org) { out = append(out, o) }); err != nil {
		return nil, 0, err
	}
	k, err := e.threshold(nil)
	return out, k, err
}
