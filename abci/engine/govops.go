package engine

import (
	"encoding/hex"
	"slices"
	"strings"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// The governance ops, one method each, called by applyGovOp for op i of d.
// A refusal fails d (INVALID_OP) and returns nil; an error is a fault.

func (e *Engine) applyAddValidator(st *staged, d *decodedTx, i int, ver storage.Version, op *types.AddValidator) error {
	org, ok, err := e.memberOrg(st, d, i, op.Org)
	if err != nil || !ok {
		return err
	}
	if ok, err := e.validatorSetAccepts(st, d, i, op.PubKey, op.Power); err != nil || !ok {
		return err
	}
	rec := validatorRecord{PubKey: hex.EncodeToString(op.PubKey), Power: op.Power, Org: org.ID}
	if err := e.putJSON(st, validatorKey(op.PubKey), rec, ver); err != nil {
		return err
	}
	st.update(op.PubKey, op.Power)
	return nil
}

func (e *Engine) applyRemoveValidator(st *staged, d *decodedTx, i int, ver storage.Version, op *types.RemoveValidator) error {
	var rec validatorRecord
	ok, err := e.readJSON(st, validatorKey(op.PubKey), &rec)
	if err != nil {
		return err
	}
	if !ok {
		d.failAt(types.CodeInvalidOp, opReason(ruleNotValidator, i, types.Address(op.PubKey)), "op %d: %s is not a validator", i, types.Address(op.PubKey))
		return nil
	}
	total, err := e.totalPower(st)
	if err != nil {
		return err
	}
	if total-rec.Power <= 0 {
		d.failAt(types.CodeInvalidOp, opReason(ruleNoPowerLeft, i, types.Address(op.PubKey)), "op %d: removing %s would leave no voting power", i, types.Address(op.PubKey))
		return nil
	}
	if ok, err := e.validatorSetAccepts(st, d, i, op.PubKey, 0); err != nil || !ok {
		return err
	}
	st.put(storage.Entry{Key: validatorKey(op.PubKey), Deleted: true, Version: ver})
	st.update(op.PubKey, 0)
	return nil
}

// validatorSetAccepts reports whether CometBFT would take this block's
// validator changes with pub's power set to power (checkValidatorChange),
// and fails d for op i when it would not.
func (e *Engine) validatorSetAccepts(st *staged, d *decodedTx, i int, pub []byte, power int64) (bool, error) {
	why, err := e.checkValidatorChange(st, pub, power)
	if err != nil {
		return false, err
	}
	if why != "" {
		d.failAt(types.CodeInvalidOp, opReason(ruleValidatorSetRefused, i, types.Address(pub)), "op %d: CometBFT would refuse the validator set: %s", i, why)
		return false, nil
	}
	return true, nil
}

func (e *Engine) applyAddOrg(st *staged, d *decodedTx, i int, ver storage.Version, op *types.AddOrg) error {
	var existing types.Org
	ok, err := e.readJSON(st, prefixed(nsOrg, op.Id), &existing)
	if err != nil {
		return err
	}
	if ok {
		d.failAt(types.CodeInvalidOp, opReason(ruleOrgExists, i, op.Id), "op %d: org %q is already a member", i, op.Id)
		return nil
	}
	org := types.Org{ID: op.Id, Admins: slices.Clone(op.Admins)}
	if err := e.putJSON(st, prefixed(nsOrg, org.ID), org, ver); err != nil {
		return err
	}
	for _, a := range org.Admins {
		g := rbac.Grant{Subject: a, Role: rbac.AdminRole, Domain: org.ID}
		added, err := e.stagePolicy(st, addGrant(g))
		if err != nil {
			return err
		}
		if added {
			st.put(storage.Entry{Key: grantKey(g), Value: []byte{}, Version: ver})
		}
	}
	return e.ensureAdminRule(st, ver)
}

func (e *Engine) applyRemoveOrg(st *staged, d *decodedTx, i int, ver storage.Version, op *types.RemoveOrg) error {
	org, ok, err := e.memberOrg(st, d, i, op.Id)
	if err != nil || !ok {
		return err
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
		d.failAt(types.CodeInvalidOp, opReason(ruleOrgHasValidators, i, org.ID), "op %d: org %q still has validators %s; remove them first", i, org.ID, strings.Join(left, ", "))
		return nil
	}
	st.put(storage.Entry{Key: prefixed(nsOrg, org.ID), Deleted: true, Version: ver})
	if err := e.removeOrgNodes(st, org.ID, ver); err != nil {
		return err
	}
	for _, a := range org.Admins {
		g := rbac.Grant{Subject: a, Role: rbac.AdminRole, Domain: org.ID}
		removed, err := e.stagePolicy(st, removeGrant(g))
		if err != nil {
			return err
		}
		if removed {
			st.put(storage.Entry{Key: grantKey(g), Deleted: true, Version: ver})
		}
	}
	return nil
}
