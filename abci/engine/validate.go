package engine

import (
	"fmt"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security/verify"
	"github.com/dstt/dstt/types"
)

// decodedTx is a tx that has been through the stateless checks. code is
// CodeOK when it passed them; sigs are then ready for verification.
type decodedTx struct {
	hash   []byte   // SHA-256 of the tx bytes: how CometBFT and clients name it
	id     [32]byte // replay identity: what the signatures cover (types.ReplayID)
	tx     types.Tx
	body   types.TxBody
	signer string
	// verified: every signature checked out, so the tx is authentic even
	// if it fails later; only authentic txs leave a record in state.
	verified bool
	size     int    // length of the tx bytes
	index    uint32 // position in the block (FinalizeBlock only)
	code     types.Code
	log      string        // in words, for the validator's own log (failText)
	reason   *types.Reason // as data, for state (failAt)
	// gtxWrites are the ledger writes of the gtxs this tx committed.
	gtxWrites []pendingWrite
}

// fail fails d with code c; the words go to the validator's log only. A
// failure that can leave a stored result uses failAt, which adds the data.
func (d *decodedTx) fail(c types.Code, format string, args ...any) {
	d.code = c
	d.log = failText(c, fmt.Sprintf(format, args...))
}

// decode runs every check that needs neither state nor signatures: the
// shared stateless check (types.ValidateTx: canonical encoding, sizes,
// chain id, key syntax) and the syntax of policy and governance ops. It
// never fails with a Go error.
//
// A tx this node already decoded and verified comes from the tx cache,
// verified (txcache.go).
func (e *Engine) decode(txBytes []byte) *decodedTx {
	hash := types.TxHash(txBytes)
	if d := e.txs.get(hash, e.chainID, e.params.Limits()); d != nil {
		return d
	}
	d := &decodedTx{hash: hash, size: len(txBytes)}
	tx, body, c, msg := types.ValidateTx(txBytes, e.chainID, e.params.Limits())
	if c != types.CodeOK {
		d.code, d.log = c, failText(c, msg)
		return d
	}
	d.tx, d.body = *tx, *body
	d.id = types.ReplayID(e.chainID, d.tx.BodyBytes)
	d.signer = types.Address(d.tx.Signatures[0].PubKey)
	for i := range d.body.Ops {
		if c, msg := e.checkOp(&d.body.Ops[i]); c != types.CodeOK {
			d.fail(c, "op %d: %s", i, msg)
			return d
		}
	}
	return d
}

// checkOp checks what types.ValidateTx leaves to the engine: the syntax of
// grants, policy rules and governance ops.
func (e *Engine) checkOp(op *types.Op) (types.Code, string) {
	switch o := op.Sum.(type) {
	case *types.Op_Grant:
		if err := grantOf(o.Grant.Subject, o.Grant.Role, o.Grant.Domain).Validate(); err != nil {
			return types.CodeInvalidOp, err.Error()
		}
	case *types.Op_Revoke:
		if err := grantOf(o.Revoke.Subject, o.Revoke.Role, o.Revoke.Domain).Validate(); err != nil {
			return types.CodeInvalidOp, err.Error()
		}
	case *types.Op_AddValidator, *types.Op_RemoveValidator, *types.Op_AddOrg, *types.Op_RemoveOrg,
		*types.Op_SetRetention:
		return checkGovOp(op)
	case *types.Op_Policy:
		if err := ruleOf(o.Policy).Validate(); err != nil {
			return types.CodeInvalidOp, err.Error()
		}
	case *types.Op_RegisterParticipant:
		if !rbac.ValidName(o.RegisterParticipant.Org) {
			return types.CodeGtxBadShape, fmt.Sprintf("org %q: want 1-%d characters of A-Z a-z 0-9 . _ : @ -", o.RegisterParticipant.Org, rbac.MaxNameBytes)
		}
	}
	return types.CodeOK, ""
}

// checkKey is types.CheckKey with this chain's key size limit.
func (e *Engine) checkKey(k string) (types.Code, string) {
	return types.CheckKey(k, e.params.MaxKeyBytes)
}

// sigItems appends the items that verify d's signatures, then the proofs
// of possession of its RotateKey ops (signatures too, made by the new key).
func (e *Engine) sigItems(items []verify.Item, d *decodedTx) []verify.Item {
	msg := types.SignBytes(e.chainID, d.tx.BodyBytes)
	for _, s := range d.tx.Signatures {
		items = append(items, verify.Item{PubKey: s.PubKey, Msg: msg, Sig: s.Signature})
	}
	for i := range d.body.Ops {
		if r := d.body.Ops[i].GetRotateKey(); r != nil {
			msg := types.RotateProofBytes(e.chainID, d.tx.Signatures[0].PubKey, r.NewPubKey)
			items = append(items, verify.Item{PubKey: r.NewPubKey, Msg: msg, Sig: r.Proof})
		}
	}
	return items
}

// sigCount is len(e.sigItems(nil, d)), without building the items.
func sigCount(d *decodedTx) int {
	n := len(d.tx.Signatures)
	for i := range d.body.Ops {
		if d.body.Ops[i].GetRotateKey() != nil {
			n++
		}
	}
	return n
}

// verifyAll checks the signatures (and rotation proofs) of every decoded tx
// not yet verified in one batch, marks the ones that fail and puts the
// others in the tx cache.
func (e *Engine) verifyAll(ds []*decodedTx) {
	sb := e.startVerify(ds)
	for k, d := range ds {
		e.settle(sb, k, d)
	}
}

// sigBatch is the signature check of decoded txs under way: first[k] is
// the first item of ds[k] in the batch, or -1 when ds[k] needs no check.
type sigBatch struct {
	verdicts Verdicts
	first    []int
}

// startVerify starts checking, in one batch, the signatures (and rotation
// proofs) of every decoded tx not yet verified; settle collects each tx's
// verdict. In between, the txs' signatures must not change.
func (e *Engine) startVerify(ds []*decodedTx) *sigBatch {
	sb := &sigBatch{first: make([]int, len(ds))}
	var items []verify.Item
	for k, d := range ds {
		sb.first[k] = -1
		if d.code == types.CodeOK && !d.verified {
			sb.first[k] = len(items)
			items = e.sigItems(items, d)
		}
	}
	if len(items) > 0 {
		sb.verdicts = e.verifier.StartBatch(items)
	}
	return sb
}

// settle waits for the verdict on ds[k] = d of a startVerify batch, marks
// d failed if a signature does not verify, and puts it in the tx cache
// otherwise.
func (e *Engine) settle(sb *sigBatch, k int, d *decodedTx) {
	j := sb.first[k]
	if j < 0 {
		return
	}
	d.verified = true
	for i := range sigCount(d) {
		if sb.verdicts.Wait(j + i) {
			continue
		}
		d.verified = false
		if i < len(d.tx.Signatures) {
			d.fail(types.CodeBadSignature, "signature %d does not verify", i)
		} else {
			d.fail(types.CodeBadSignature, "the rotate_key proof does not verify: the new key must sign types.RotateProofBytes(chain id, old key, new key)")
		}
		break
	}
	e.txs.put(d, d.size, e.chainID, e.params.Limits())
}

func grantOf(subject, role, domain string) rbac.Grant {
	return rbac.Grant{Subject: subject, Role: role, Domain: domain}
}

func ruleOf(p *types.PolicyRule) rbac.Rule {
	return rbac.Rule{Subject: p.Subject, Domain: p.Domain, Object: p.Object, Action: p.Action, Deny: p.Deny}
}

// authorize checks every op of d against the policy as it stands before
// the tx (the block's while st is non-nil, else the committed one): put/delete need write on the key, check needs read, policy ops
// need admin in their domain. The first missing permission fails the tx.
func (e *Engine) authorize(st *staged, d *decodedTx) {
	if e.open {
		return
	}
	p := e.policyAt(st)
	for i := range d.body.Ops {
		var dom, obj, act string
		switch o := d.body.Ops[i].Sum.(type) {
		case *types.Op_Put:
			obj, act = o.Put.Key, rbac.ActWrite
		case *types.Op_Delete:
			obj, act = o.Delete.Key, rbac.ActWrite
		case *types.Op_Check:
			obj, act = o.Check.Key, rbac.ActRead
		case *types.Op_Grant:
			dom, act = o.Grant.Domain, rbac.ActAdmin
		case *types.Op_Revoke:
			dom, act = o.Revoke.Domain, rbac.ActAdmin
		case *types.Op_Policy:
			dom, act = o.Policy.Domain, rbac.ActAdmin
		case *types.Op_RegisterNode:
			dom, act = o.RegisterNode.Org, rbac.ActAdmin
		case *types.Op_RemoveNode:
			dom, act = o.RemoveNode.Org, rbac.ActAdmin
		case *types.Op_RotateKey:
			continue // anyone may rotate their own key
		default:
			continue // governance: k-of-n org signatures (authorizeGov)
		}
		if act == rbac.ActAdmin {
			if !p.IsAdmin(d.signer, dom) {
				d.failAt(types.CodeUnauthorized, opReason(ruleLacksAdmin, i, dom), "op %d: %s lacks admin in domain %q", i, d.signer, dom)
				return
			}
			continue
		}
		dom = rbac.DomainOf(obj)
		if !p.Allowed(d.signer, dom, obj, act) {
			rule := ruleLacksWrite
			if act == rbac.ActRead {
				rule = ruleLacksRead
			}
			d.failAt(types.CodeUnauthorized, opReason(rule, i, obj), "op %d: %s lacks %s on key %q (domain %q)", i, d.signer, act, obj, dom)
			return
		}
	}
	e.authorizeLockout(st, d)
}

// checkWindow applies the replay window for a tx to be committed at height.
func (e *Engine) checkWindow(d *decodedTx, height uint64) {
	vu := d.body.ValidUntilHeight
	switch {
	case vu < height:
		d.failAt(types.CodeExpired, types.Reason{Rule: ruleExpired, Height: vu}, "valid_until_height %d is below height %d; sign it again with a later valid_until_height", vu, height)
	case vu-height > e.params.TxWindow:
		d.failAt(types.CodeTooFarAhead, types.Reason{Rule: ruleTooFarAhead, Height: vu}, "valid_until_height %d is more than %d blocks after height %d", vu, e.params.TxWindow, height)
	}
}
