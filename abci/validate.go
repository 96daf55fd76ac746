package abci

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// decodedTx is a tx that has been through the stateless checks. code is
// CodeOK when it passed them; sigs are then ready for verification.
type decodedTx struct {
	hash   []byte
	tx     types.Tx
	body   types.TxBody
	signer string
	// verified: every signature checked out, so the tx is authentic even
	// if it fails later; only authentic txs leave a record in state.
	verified bool
	index    uint32 // position in the block (FinalizeBlock only)
	code     types.Code
	log      string
}

func (d *decodedTx) fail(c types.Code, format string, args ...any) {
	d.code = c
	d.log = c.Message() + ": " + fmt.Sprintf(format, args...)
}

// decode runs every check that needs neither state nor signatures: encoding,
// sizes, chain id, key syntax. It never fails with a Go error.
func (e *Engine) decode(txBytes []byte) *decodedTx {
	d := &decodedTx{hash: types.TxHash(txBytes)}
	p := &e.params
	if len(txBytes) > int(p.MaxTxBytes) {
		d.fail(types.CodeTooLarge, "tx is %d bytes, the limit is %d", len(txBytes), p.MaxTxBytes)
		return d
	}
	if err := d.tx.Unmarshal(txBytes); err != nil {
		d.fail(types.CodeEncoding, "envelope: %v", err)
		return d
	}
	if err := d.body.Unmarshal(d.tx.BodyBytes); err != nil {
		d.fail(types.CodeEncoding, "body: %v", err)
		return d
	}
	if d.body.ChainId != e.chainID {
		d.fail(types.CodeWrongChain, "tx is for chain %q, this is %q", d.body.ChainId, e.chainID)
		return d
	}
	switch n := len(d.tx.Signatures); {
	case n == 0:
		d.fail(types.CodeNoSignature, "add at least one signature")
		return d
	case n > int(p.MaxSignatures):
		d.fail(types.CodeTooLarge, "%d signatures, the limit is %d", n, p.MaxSignatures)
		return d
	}
	for i, s := range d.tx.Signatures {
		if len(s.PubKey) != 32 || len(s.Signature) != 64 {
			d.fail(types.CodeBadSignature, "signature %d: want a 32-byte ed25519 key and a 64-byte signature", i)
			return d
		}
	}
	d.signer = types.Address(d.tx.Signatures[0].PubKey)
	if len(d.body.Memo) > int(p.MaxMemoBytes) {
		d.fail(types.CodeTooLarge, "memo is %d bytes, the limit is %d", len(d.body.Memo), p.MaxMemoBytes)
		return d
	}
	switch n := len(d.body.Ops); {
	case n == 0:
		d.fail(types.CodeInvalidOp, "the tx has no ops")
		return d
	case n > int(p.MaxOps):
		d.fail(types.CodeTooLarge, "%d ops, the limit is %d", n, p.MaxOps)
		return d
	}
	for i := range d.body.Ops {
		if c, msg := e.checkOp(&d.body.Ops[i]); c != types.CodeOK {
			d.fail(c, "op %d: %s", i, msg)
			return d
		}
	}
	return d
}

func (e *Engine) checkOp(op *types.Op) (types.Code, string) {
	switch o := op.Sum.(type) {
	case *types.Op_Put:
		if o.Put == nil {
			return types.CodeInvalidOp, "empty put"
		}
		if c, msg := e.checkKey(o.Put.Key); c != types.CodeOK {
			return c, msg
		}
		if len(o.Put.Value) > int(e.params.MaxValueBytes) {
			return types.CodeTooLarge, fmt.Sprintf("value is %d bytes, the limit is %d", len(o.Put.Value), e.params.MaxValueBytes)
		}
	case *types.Op_Delete:
		if o.Delete == nil {
			return types.CodeInvalidOp, "empty delete"
		}
		return e.checkKey(o.Delete.Key)
	case *types.Op_Check:
		if o.Check == nil {
			return types.CodeInvalidOp, "empty check"
		}
		return e.checkKey(o.Check.Key)
	case *types.Op_Grant:
		if o.Grant == nil {
			return types.CodeInvalidOp, "empty grant"
		}
		if err := grantOf(o.Grant.Subject, o.Grant.Role, o.Grant.Domain).Validate(); err != nil {
			return types.CodeInvalidOp, err.Error()
		}
	case *types.Op_Revoke:
		if o.Revoke == nil {
			return types.CodeInvalidOp, "empty revoke"
		}
		if err := grantOf(o.Revoke.Subject, o.Revoke.Role, o.Revoke.Domain).Validate(); err != nil {
			return types.CodeInvalidOp, err.Error()
		}
	case *types.Op_AddValidator, *types.Op_RemoveValidator, *types.Op_AddOrg, *types.Op_RemoveOrg:
		return checkGovOp(op)
	case *types.Op_RotateKey:
		if o.RotateKey == nil || len(o.RotateKey.NewPubKey) != 32 {
			return types.CodeInvalidOp, "rotate_key needs a 32-byte ed25519 public key"
		}
	case *types.Op_Policy:
		if o.Policy == nil {
			return types.CodeInvalidOp, "empty policy rule"
		}
		if err := ruleOf(o.Policy).Validate(); err != nil {
			return types.CodeInvalidOp, err.Error()
		}
	default:
		return types.CodeInvalidOp, "unknown or empty op"
	}
	return types.CodeOK, ""
}

// checkKey: keys are 1..MaxKeyBytes of valid UTF-8 without control
// characters, so they print, index and travel as JSON unchanged.
func (e *Engine) checkKey(k string) (types.Code, string) {
	if k == "" {
		return types.CodeInvalidOp, "empty key"
	}
	if len(k) > int(e.params.MaxKeyBytes) {
		return types.CodeTooLarge, fmt.Sprintf("key is %d bytes, the limit is %d", len(k), e.params.MaxKeyBytes)
	}
	if !utf8.ValidString(k) {
		return types.CodeInvalidOp, "key is not valid UTF-8"
	}
	for _, r := range k {
		if unicode.IsControl(r) {
			return types.CodeInvalidOp, fmt.Sprintf("key %q contains a control character", k)
		}
	}
	return types.CodeOK, ""
}

// sigItems appends the items that verify d's signatures.
func (e *Engine) sigItems(items []security.SigItem, d *decodedTx) []security.SigItem {
	msg := types.SignBytes(e.chainID, d.tx.BodyBytes)
	for _, s := range d.tx.Signatures {
		items = append(items, security.SigItem{PubKey: s.PubKey, Msg: msg, Sig: s.Signature})
	}
	return items
}

// verifyAll checks the signatures of every decoded tx in one batch and marks
// the ones that fail.
func (e *Engine) verifyAll(ds []*decodedTx) {
	var items []security.SigItem
	for _, d := range ds {
		if d.code == types.CodeOK {
			items = e.sigItems(items, d)
		}
	}
	if len(items) == 0 {
		return
	}
	ok := e.verifier.VerifyBatch(items)
	j := 0
	for _, d := range ds {
		if d.code != types.CodeOK {
			continue
		}
		d.verified = true
		for i := range d.tx.Signatures {
			if !ok[j+i] && d.code == types.CodeOK {
				d.fail(types.CodeBadSignature, "signature %d does not verify", i)
				d.verified = false
			}
		}
		j += len(d.tx.Signatures)
	}
}

func grantOf(subject, role, domain string) rbac.Grant {
	return rbac.Grant{Subject: subject, Role: role, Domain: domain}
}

func ruleOf(p *types.PolicyRule) rbac.Rule {
	return rbac.Rule{Subject: p.Subject, Domain: p.Domain, Object: p.Object, Action: p.Action, Deny: p.Deny}
}

// authorize checks every op of d against the policy as it stands before
// the tx: put/delete need write on the key, check needs read, policy ops
// need admin in their domain. The first missing permission fails the tx.
func (e *Engine) authorize(d *decodedTx) {
	if e.open {
		return
	}
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
		case *types.Op_RotateKey:
			continue // anyone may rotate their own key
		default:
			continue // governance: k-of-n org signatures (authorizeGov)
		}
		if act == rbac.ActAdmin {
			if !e.policy.IsAdmin(d.signer, dom) {
				d.fail(types.CodeUnauthorized, "op %d: %s lacks admin in domain %q", i, d.signer, dom)
				return
			}
			continue
		}
		dom = rbac.DomainOf(obj)
		if !e.policy.Allowed(d.signer, dom, obj, act) {
			d.fail(types.CodeUnauthorized, "op %d: %s lacks %s on key %q (domain %q)", i, d.signer, act, obj, dom)
			return
		}
	}
}

// checkWindow applies the replay window for a tx to be committed at height.
func (e *Engine) checkWindow(d *decodedTx, height uint64) {
	vu := d.body.ValidUntilHeight
	switch {
	case vu < height:
		d.fail(types.CodeExpired, "valid_until_height %d is below height %d; sign it again with a later valid_until_height", vu, height)
	case vu-height > e.params.TxWindow:
		d.fail(types.CodeTooFarAhead, "valid_until_height %d is more than %d blocks after height %d", vu, e.params.TxWindow, height)
	}
}
