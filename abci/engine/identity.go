package engine

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// Identities and key rotation. An identity is the address of the key that
// first signed for it; its permissions are granted to that address. A
// RotateKey op signed by the identity's current key makes another key
// current from the next tx on and retires the old one. Keys that never took
// part in a rotation have no record: their address is their identity.
//
// State: nsKey + key address -> JSON keyRecord; nsIdentity + identity ->
// JSON types.IdentityView (the identity's key history). The engine keeps every
// key record in memory (rotations are rare), so resolving a signer costs a
// map lookup.
const (
	nsKey      = 'i'
	nsIdentity = 'I'
)

type keyRecord struct {
	Identity  string `json:"identity"`
	RetiredAt uint64 `json:"retired_at,omitempty"` // height; 0 = current
}

func prefixed(ns byte, s string) []byte { return append([]byte{ns}, s...) }

func (e *Engine) loadKeys() error {
	var bad error
	err := e.store.Scan([]byte{nsKey}, 0, func(ent storage.Entry) bool {
		var r keyRecord
		if err := json.Unmarshal(ent.Value, &r); err != nil {
			bad = fmt.Errorf("abci: stored key record %q: %w", ent.Key, err)
			return false
		}
		e.keys[string(ent.Key[1:])] = r
		return true
	})
	if err != nil {
		return err
	}
	return bad
}

// resolve is the one identity rule, for writes and reads alike: it maps a
// key's address to the identity the key acts for. A key that never took
// part in a rotation is its own identity; a key rotated to acts for its
// identity; a retired key acts for none (ok is false). Signers of txs,
// readers of signed queries and subjects asked about in policy checks all
// go through it. resolve answers from the committed key map; resolveAt
// from the block's while st is non-nil.
func (e *Engine) resolve(addr string) (identity string, ok bool) { return e.resolveAt(nil, addr) }

func (e *Engine) resolveAt(st *staged, addr string) (identity string, ok bool) {
	rec, known := e.keyAt(st, addr)
	switch {
	case !known:
		return addr, true
	case rec.RetiredAt != 0:
		return "", false
	}
	return rec.Identity, true
}

// retiredKeyReason says why a retired key may not act.
func (e *Engine) retiredKeyReason(addr string) string { return e.retiredKeyReasonAt(nil, addr) }

func (e *Engine) retiredKeyReasonAt(st *staged, addr string) string {
	rec, _ := e.keyAt(st, addr) // ok: a retired key has a record
	return fmt.Sprintf("key %s of identity %s was retired at height %d; use its current key", addr, rec.Identity, rec.RetiredAt)
}

// resolveSigners maps d's verified signatures to identities: the actor is
// the first signature's identity. A retired key fails the tx.
func (e *Engine) resolveSigners(st *staged, d *decodedTx) {
	for i, s := range d.tx.Signatures {
		addr := types.Address(s.PubKey)
		id, ok := e.resolveAt(st, addr)
		if !ok {
			rec, _ := e.keyAt(st, addr) // a retired key has a record
			d.failAt(types.CodeKeyRetired, types.Reason{Rule: ruleKeyRetired, Subject: addr, Height: rec.RetiredAt},
				"signature %d: %s", i, e.retiredKeyReasonAt(st, addr))
			return
		}
		if i == 0 {
			d.signer = id
		}
	}
}

// rotateKey applies a RotateKey op of the tx being executed.
func (e *Engine) rotateKey(st *staged, d *decodedTx, newPub []byte, u *undoLog) error {
	oldAddr := types.Address(d.tx.Signatures[0].PubKey)
	newAddr := types.Address(newPub)
	identity := d.signer
	view, err := e.identityView(st, identity)
	if err != nil {
		return err
	}
	if len(view.Keys) == 0 { // first rotation: record the original key
		view.Keys = []types.IdentityKey{{PubKey: hex.EncodeToString(d.tx.Signatures[0].PubKey), Address: oldAddr}}
	}
	view.Keys[len(view.Keys)-1].RetiredAt = st.height
	view.Keys = append(view.Keys, types.IdentityKey{PubKey: hex.EncodeToString(newPub), Address: newAddr, Since: st.height})
	view.Current = hex.EncodeToString(newPub)
	ver := storage.Version{Height: st.height, Index: d.index}
	old := keyRecord{Identity: identity, RetiredAt: st.height}
	cur := keyRecord{Identity: identity}
	u.add(st.stageKey(oldAddr, old))
	u.add(st.stageKey(newAddr, cur))
	for _, w := range []struct {
		key []byte
		val any
	}{{prefixed(nsKey, oldAddr), old}, {prefixed(nsKey, newAddr), cur}, {prefixed(nsIdentity, identity), view}} {
		b, err := json.Marshal(w.val)
		if err != nil {
			return err
		}
		st.put(storage.Entry{Key: w.key, Value: b, Version: ver})
	}
	return nil
}

// checkRotation reports why newPub cannot become d's signer's key, or "".
// The new key has proved possession (its proof is verified with the tx's
// signatures, see sigItems); it must not be, or have been, any identity's
// key, a subject in the policy or an org admin: nobody can take over
// another identity's key, and a key never acts for two identities.
func (e *Engine) checkRotation(st *staged, d *decodedTx, newPub []byte) (string, error) {
	oldPub := d.tx.Signatures[0].PubKey
	newAddr := types.Address(newPub)
	if _, used := e.keyAt(st, newAddr); used || newAddr == d.signer || newAddr == types.Address(oldPub) {
		return fmt.Sprintf("key %s already belongs to an identity", newAddr), nil
	}
	p := e.policyAt(st)
	for _, g := range p.Grants() {
		if g.Subject == newAddr {
			return fmt.Sprintf("key %s is a subject in the access-control policy (grant %s %s %s); it cannot become another identity's key", newAddr, g.Subject, g.Role, g.Domain), nil
		}
	}
	for _, r := range p.Rules() {
		if r.Subject == newAddr {
			return fmt.Sprintf("key %s is a subject in the access-control policy; it cannot become another identity's key", newAddr), nil
		}
	}
	admin := ""
	err := e.scanOrgs(st, func(o types.Org) {
		if slices.Contains(o.Admins, newAddr) && admin == "" {
			admin = o.ID
		}
	})
	if err != nil {
		return "", err
	}
	if admin != "" {
		return fmt.Sprintf("key %s is an admin of org %q; it cannot become another identity's key", newAddr, admin), nil
	}
	return "", nil
}

func (e *Engine) identityView(st *staged, identity string) (types.IdentityView, error) {
	view := types.IdentityView{Identity: identity}
	var ent storage.Entry
	var ok bool
	var err error
	if st != nil {
		ent, ok, err = e.read(st, prefixed(nsIdentity, identity))
	} else {
		ent, ok, err = e.store.Get(prefixed(nsIdentity, identity), 0)
	}
	if err != nil || !ok {
		return view, err
	}
	err = json.Unmarshal(ent.Value, &view)
	return view, err
}

// Identity answers QueryIdentity for an identity or any of its keys.
func (r Reader) Identity(addr string) (types.IdentityView, error) {
	e := r.e
	if !isAddress(addr) {
		return types.IdentityView{}, fmt.Errorf("%w: %q is not an address", ErrBadQuery, addr)
	}
	identity := addr
	if rec, ok := e.keys[addr]; ok { // a retired key still names its identity here
		identity = rec.Identity
	}
	return e.identityView(nil, identity)
}
