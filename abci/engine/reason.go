package engine

import (
	"fmt"

	"github.com/dstt/dstt/types"
)

// Hashed state is data, not prose. A tx's stored result (types.TxResult,
// part of the app hash and, as ExecTxResult.data, of CometBFT's results
// hash) and its audit entry hold the code and a types.Reason: a stable rule
// name and the fields that locate the failure. Human text is made in two
// places outside every hash: failText words the validator's own log
// (ExecTxResult.log, CheckTx), and renderLog words a status query's answer
// from the stored code and reason. Rewording either never forks the chain.

// Rules: the stable names in types.Reason.rule. Never reword or reuse one.
const (
	ruleKeyRetired          = "key_retired"           // subject: the key's address; height: retired at
	ruleExpired             = "expired"               // height: the tx's valid_until_height
	ruleTooFarAhead         = "too_far_ahead"         // height: the tx's valid_until_height
	ruleLacksAdmin          = "lacks_admin"           // op; subject: the domain
	ruleLacksRead           = "lacks_read"            // op; subject: the key
	ruleLacksWrite          = "lacks_write"           // op; subject: the key
	ruleLockout             = "lockout"               // op: only a chain-wide admin may make this change
	ruleGovThreshold        = "gov_threshold"         // need, have: approving member orgs
	ruleKeyTaken            = "key_taken"             // op; subject: the new key's address
	ruleVersionMismatch     = "version_mismatch"      // op; subject: the key; expected, actual
	ruleNoOrg               = "no_org"                // op; subject: the org id
	ruleOrgExists           = "org_exists"            // op; subject: the org id
	ruleOrgHasValidators    = "org_has_validators"    // op; subject: the org id
	ruleNotValidator        = "not_validator"         // op; subject: the validator's address
	ruleNoPowerLeft         = "no_power_left"         // op; subject: the validator's address
	ruleValidatorSetRefused = "validator_set_refused" // op; subject: the validator's address
	ruleNodeRegistered      = "node_registered"       // op; subject: the node ID
	ruleNoNode              = "no_node"               // op; subject: the node ID
	ruleNodeLimit           = "node_limit"            // op; subject: the org id
)

// failText words a failure for the validator's own log. A variable so a
// test can reword every message and show that no hash changes.
var failText = func(c types.Code, detail string) string { return c.Message() + ": " + detail }

// ruleText words each rule for renderLog. A variable for the same reason.
var ruleText = map[string]func(r *types.Reason) string{
	ruleKeyRetired: func(r *types.Reason) string {
		return fmt.Sprintf("key %s was retired at height %d; use its identity's current key", r.Subject, r.Height)
	},
	ruleExpired: func(r *types.Reason) string {
		return fmt.Sprintf("valid_until_height %d is below the block height; sign it again with a later valid_until_height", r.Height)
	},
	ruleTooFarAhead: func(r *types.Reason) string {
		return fmt.Sprintf("valid_until_height %d is more than the replay window after the block height", r.Height)
	},
	ruleLacksAdmin: func(r *types.Reason) string { return fmt.Sprintf("the signer lacks admin in domain %q", r.Subject) },
	ruleLacksRead:  func(r *types.Reason) string { return fmt.Sprintf("the signer lacks read on key %q", r.Subject) },
	ruleLacksWrite: func(r *types.Reason) string { return fmt.Sprintf("the signer lacks write on key %q", r.Subject) },
	ruleLockout: func(*types.Reason) string {
		return "only a chain-wide admin may make or unmake a chain-wide admin, or deny one"
	},
	ruleGovThreshold: func(r *types.Reason) string {
		return fmt.Sprintf("governance needs signatures from admins of %d distinct member orgs; this tx has %d", r.Need, r.Have)
	},
	ruleKeyTaken: func(r *types.Reason) string {
		return fmt.Sprintf("key %s already belongs to an identity, is a policy subject or an org admin", r.Subject)
	},
	ruleVersionMismatch: func(r *types.Reason) string {
		return fmt.Sprintf("key %q is at version %s, the tx expected %s", r.Subject, versionText(r.Actual), versionText(r.Expected))
	},
	ruleNoOrg:     func(r *types.Reason) string { return fmt.Sprintf("no member org %q", r.Subject) },
	ruleOrgExists: func(r *types.Reason) string { return fmt.Sprintf("org %q is already a member", r.Subject) },
	ruleOrgHasValidators: func(r *types.Reason) string {
		return fmt.Sprintf("org %q still has validators; remove them first", r.Subject)
	},
	ruleNotValidator: func(r *types.Reason) string { return fmt.Sprintf("%s is not a validator", r.Subject) },
	ruleNoPowerLeft:  func(r *types.Reason) string { return fmt.Sprintf("removing %s would leave no voting power", r.Subject) },
	ruleValidatorSetRefused: func(r *types.Reason) string {
		return fmt.Sprintf("CometBFT would refuse the validator set with %s changed", r.Subject)
	},
	ruleNodeRegistered: func(r *types.Reason) string { return fmt.Sprintf("node %s is already registered", r.Subject) },
	ruleNoNode: func(r *types.Reason) string {
		return fmt.Sprintf("node %s is not registered for the org the op names", r.Subject)
	},
	ruleNodeLimit: func(r *types.Reason) string {
		return fmt.Sprintf("org %q has as many registered nodes as one org may (%d)", r.Subject, MaxNodesPerOrg)
	},
}

func versionText(v *types.Version) string {
	if v == nil {
		return types.Version{}.Text()
	}
	return v.Text()
}

// renderLog words a stored outcome: the code's message, then the reason's
// op and rule in words. It reads nothing but its arguments.
func renderLog(c types.Code, r *types.Reason) string {
	if c == types.CodeOK {
		return ""
	}
	if r == nil {
		return c.Message()
	}
	s := c.Message() + ": "
	if r.Op > 0 {
		s += fmt.Sprintf("op %d: ", r.Op-1)
	}
	if f, ok := ruleText[r.Rule]; ok {
		return s + f(r)
	}
	return s + r.Rule
}

// failAt fails d with code c for rule, as data (r, with its Rule set) and
// in words (format, args) for the validator's own log.
func (d *decodedTx) failAt(c types.Code, r types.Reason, format string, args ...any) {
	d.fail(c, format, args...)
	d.reason = &r
}

// opReason is a reason about op i.
func opReason(rule string, i int, subject string) types.Reason {
	return types.Reason{Rule: rule, Op: uint32(i) + 1, Subject: subject}
}
