package abci

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

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
// State: nsOrg + id -> JSON Org; nsValidator + address -> JSON
// validatorRecord; nsEvidence + height + index -> JSON EvidenceRecord.
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

// EvidenceRecord is what the chain keeps of a punished misbehaviour.
type EvidenceRecord struct {
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

// QueryValidators answers the JSON list of validators; QueryOrgs the orgs.
const (
	QueryValidators = "/gov/validators"
	QueryOrgs       = "/gov/orgs"
)

func (e *Engine) threshold() int {
	if e.gov.Threshold > 0 {
		return int(e.gov.Threshold)
	}
	n := 0
	_ = e.store.Scan([]byte{nsOrg}, 0, func(storage.Entry) bool { n++; return true })
	return n/2 + 1
}

// govState is the genesis governance setting kept in the chain record.
type govState struct {
	Threshold uint32 `json:"threshold,omitempty"`
}

// orgsOfSigners lists the distinct orgs whose admins signed d.
func (e *Engine) orgsOfSigners(st *staged, d *decodedTx) ([]string, error) {
	ids := map[string]bool{}
	for _, s := range d.tx.Signatures {
		ids[e.identityOf(s.PubKey)] = true
	}
	var orgs []string
	err := e.scanOrgs(st, func(o Org) {
		for _, a := range o.Admins {
			if ids[a] {
				orgs = append(orgs, o.ID)
				return
			}
		}
	})
	return orgs, err
}

// identityOf maps a public key to its identity (see identity.go).
func (e *Engine) identityOf(pub []byte) string {
	addr := types.Address(pub)
	if rec, ok := e.keys[addr]; ok && rec.RetiredAt == 0 {
		return rec.Identity
	}
	return addr
}

// scanOrgs calls fn for every org, in id order, as the block sees them.
func (e *Engine) scanOrgs(st *staged, fn func(Org)) error {
	seen := map[string]bool{}
	var all []Org
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
			var o Org
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
		var o Org
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
	slices.SortFunc(all, func(a, b Org) int { return strings.Compare(a.ID, b.ID) })
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

// isGovOp reports whether op needs k-of-n org signatures.
func isGovOp(op *types.Op) bool {
	switch op.Sum.(type) {
	case *types.Op_AddValidator, *types.Op_RemoveValidator, *types.Op_AddOrg, *types.Op_RemoveOrg:
		return true
	}
	return false
}

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

// authorizeGov requires signatures from admins of k distinct orgs when the
// tx holds a governance op.
func (e *Engine) authorizeGov(st *staged, d *decodedTx) error {
	if !slices.ContainsFunc(d.body.Ops, func(op types.Op) bool { return isGovOp(&op) }) {
		return nil
	}
	orgs, err := e.orgsOfSigners(st, d)
	if err != nil {
		return err
	}
	if k := e.threshold(); len(orgs) < k {
		d.fail(types.CodeUnauthorized, "governance needs signatures from admins of %d distinct member orgs; this tx has %d (%s)", k, len(orgs), strings.Join(orgs, ", "))
	}
	return nil
}

// applyGovOp executes one governance op; a refusal fails d (INVALID_OP).
func (e *Engine) applyGovOp(st *staged, d *decodedTx, i int, ver storage.Version, u *undoLog) error {
	switch o := d.body.Ops[i].Sum.(type) {
	case *types.Op_AddValidator:
		var org Org
		ok, err := e.readJSON(st, prefixed(nsOrg, o.AddValidator.Org), &org)
		if err != nil {
			return err
		}
		if !ok {
			d.fail(types.CodeInvalidOp, "op %d: no member org %q", i, o.AddValidator.Org)
			return nil
		}
		rec := validatorRecord{PubKey: hex.EncodeToString(o.AddValidator.PubKey), Power: o.AddValidator.Power, Org: org.ID}
		if err := e.putJSON(st, validatorKey(o.AddValidator.PubKey), rec, ver); err != nil {
			return err
		}
		st.update(o.AddValidator.PubKey, o.AddValidator.Power)
	case *types.Op_RemoveValidator:
		var rec validatorRecord
		ok, err := e.readJSON(st, validatorKey(o.RemoveValidator.PubKey), &rec)
		if err != nil {
			return err
		}
		if !ok {
			d.fail(types.CodeInvalidOp, "op %d: %s is not a validator", i, types.Address(o.RemoveValidator.PubKey))
			return nil
		}
		total, err := e.totalPower(st)
		if err != nil {
			return err
		}
		if total-rec.Power <= 0 {
			d.fail(types.CodeInvalidOp, "op %d: removing %s would leave no voting power", i, types.Address(o.RemoveValidator.PubKey))
			return nil
		}
		st.put(storage.Entry{Key: validatorKey(o.RemoveValidator.PubKey), Deleted: true, Version: ver})
		st.update(o.RemoveValidator.PubKey, 0)
	case *types.Op_AddOrg:
		var existing Org
		ok, err := e.readJSON(st, prefixed(nsOrg, o.AddOrg.Id), &existing)
		if err != nil {
			return err
		}
		if ok {
			d.fail(types.CodeInvalidOp, "op %d: org %q is already a member", i, o.AddOrg.Id)
			return nil
		}
		org := Org{ID: o.AddOrg.Id, Admins: slices.Clone(o.AddOrg.Admins)}
		if err := e.putJSON(st, prefixed(nsOrg, org.ID), org, ver); err != nil {
			return err
		}
		for _, a := range org.Admins {
			g := rbac.Grant{Subject: a, Role: rbac.AdminRole, Domain: org.ID}
			if added, _ := e.policy.AddGrant(g); added {
				u.add(func() { _, _ = e.policy.RemoveGrant(g) })
				st.put(storage.Entry{Key: grantKey(g), Value: []byte{}, Version: ver})
			}
		}
		e.ensureAdminRule(st, ver, u)
	case *types.Op_RemoveOrg:
		var org Org
		ok, err := e.readJSON(st, prefixed(nsOrg, o.RemoveOrg.Id), &org)
		if err != nil {
			return err
		}
		if !ok {
			d.fail(types.CodeInvalidOp, "op %d: no member org %q", i, o.RemoveOrg.Id)
			return nil
		}
		var left []string
		if err := e.scanValidators(st, func(pub []byte, r validatorRecord) {
			if r.Org == org.ID {
				left = append(left, types.Address(pub))
			}
		}); err != nil {
			return err
		}
		if len(left) > 0 {
			d.fail(types.CodeInvalidOp, "op %d: org %q still has validators %s; remove them first", i, org.ID, strings.Join(left, ", "))
			return nil
		}
		st.put(storage.Entry{Key: prefixed(nsOrg, org.ID), Deleted: true, Version: ver})
		for _, a := range org.Admins {
			g := rbac.Grant{Subject: a, Role: rbac.AdminRole, Domain: org.ID}
			if removed, _ := e.policy.RemoveGrant(g); removed {
				u.add(func() { _, _ = e.policy.AddGrant(g) })
				st.put(storage.Entry{Key: grantKey(g), Deleted: true, Version: ver})
			}
		}
	}
	return nil
}

// ensureAdminRule makes sure the admin role's rule exists (a chain that
// started without admins gets it with its first org).
func (e *Engine) ensureAdminRule(st *staged, ver storage.Version, u *undoLog) {
	r := rbac.Rule{Subject: rbac.AdminRole, Domain: rbac.AllDomains, Object: "*", Action: rbac.ActAll}
	if added, _ := e.policy.AddRule(r); added {
		u.add(func() { _, _ = e.policy.RemoveRule(r) })
		st.put(storage.Entry{Key: ruleKey(r), Value: []byte{}, Version: ver})
	}
}

// scanValidators calls fn for every validator with power, as the block
// sees them, in address order.
func (e *Engine) scanValidators(st *staged, fn func(pub []byte, r validatorRecord)) error {
	recs := map[string]*validatorRecord{}
	var bad error
	err := e.store.Scan([]byte{nsValidator}, 0, func(ent storage.Entry) bool {
		var r validatorRecord
		if bad = json.Unmarshal(ent.Value, &r); bad != nil {
			return false
		}
		recs[string(ent.Key)] = &r
		return true
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		return err
	}
	if st != nil {
		for _, w := range st.writes {
			if len(w.Key) == 0 || w.Key[0] != nsValidator {
				continue
			}
			if w.Deleted {
				delete(recs, string(w.Key))
				continue
			}
			var r validatorRecord
			if err := json.Unmarshal(w.Value, &r); err != nil {
				return err
			}
			recs[string(w.Key)] = &r
		}
	}
	for _, k := range slices.Sorted(maps.Keys(recs)) {
		pub, _ := hex.DecodeString(recs[k].PubKey)
		fn(pub, *recs[k])
	}
	return nil
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
			Resources: []string{"validator:" + types.Address(pub)},
			Message:   fmt.Sprintf("%s at height %d: power %d removed", ev.Type, ev.Height, rec.Power),
		})
		ver := storage.Version{Height: st.height, Index: uint32(i)}
		evKey := append([]byte{nsEvidence}, fmt.Sprintf("%020d/%04d", st.height, i)...)
		if err := e.putJSON(st, evKey, EvidenceRecord{Type: ev.Type, Validator: types.Address(pub), Height: ev.Height, Block: st.height, PowerWas: rec.Power}, ver); err != nil {
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

// ValidatorView is one entry of QueryValidators.
type ValidatorView struct {
	Address string `json:"address"`
	PubKey  string `json:"pub_key"`
	Power   int64  `json:"power"`
	Org     string `json:"org,omitempty"`
}

// Validators lists the committed validator set.
func (e *Engine) Validators() ([]ValidatorView, error) {
	var out []ValidatorView
	err := e.scanValidators(nil, func(pub []byte, r validatorRecord) {
		out = append(out, ValidatorView{Address: strings.ToUpper(types.Address(pub)), PubKey: r.PubKey, Power: r.Power, Org: r.Org})
	})
	return out, err
}

// Orgs lists the committed member organisations, and the threshold k.
func (e *Engine) Orgs() ([]Org, int, error) {
	var out []Org
	err := e.scanOrgs(nil, func(o Org) { out = append(out, o) })
	return out, e.threshold(), err
}
