package types

import "slices"

// Org is a consortium member organisation (in genesis, and as QueryOrgs
// answers it).
type Org struct {
	ID string `json:"id"`
	// Admins are the addresses of the org's admin keys.
	Admins []string `json:"admins"`
	// Validators are the hex ed25519 public keys of the org's validators.
	Validators []string `json:"validators,omitempty"`
	// Nodes, in genesis, are the P2P node IDs registered for the org from
	// the start (peer admission; RegisterNode adds more later).
	Nodes []string `json:"nodes,omitempty"`
}

// OrgsView is the answer to QueryOrgs: the member orgs, sorted by ID, and
// k, the number of distinct orgs whose admins must sign a governance tx.
type OrgsView struct {
	Orgs      []Org `json:"orgs"`
	Threshold int   `json:"threshold"`
}

// ValidatorView is one entry of the answer to QueryValidators.
type ValidatorView struct {
	Address string `json:"address"`
	PubKey  string `json:"pub_key"`
	Power   int64  `json:"power"`
	Org     string `json:"org,omitempty"`
}

// ApprovingOrgs lists, in id order, the orgs (sorted by id) that the
// signing identities approve for: each identity counts for at most one org
// it administers, and each org once. That is a maximum matching between
// signers and orgs (an identity that administers three orgs still approves
// for one), found with augmenting paths tried in signer order and org-id
// order, so every replica, and every client that asks, finds the same one.
func ApprovingOrgs(signers []string, orgs []Org) []string {
	var out []string
	for _, a := range Approvals(signers, orgs) {
		out = append(out, a.Org)
	}
	return out
}

// Approval is one org approving a governance tx, through the signer it
// counts for.
type Approval struct {
	Org, Signer string
}

// Approvals is ApprovingOrgs with the signer each org counts for.
func Approvals(signers []string, orgs []Org) []Approval {
	adj := make([][]int, len(signers)) // signer -> orgs it administers, in id order
	for j, o := range orgs {
		for i, s := range signers {
			if slices.Contains(o.Admins, s) {
				adj[i] = append(adj[i], j)
			}
		}
	}
	owner := make([]int, len(orgs)) // org -> the signer it counts for, or -1
	for j := range owner {
		owner[j] = -1
	}
	var augment func(i int, seen []bool) bool
	augment = func(i int, seen []bool) bool {
		for _, j := range adj[i] {
			if seen[j] {
				continue
			}
			seen[j] = true
			if owner[j] < 0 || augment(owner[j], seen) {
				owner[j] = i
				return true
			}
		}
		return false
	}
	for i := range signers {
		augment(i, make([]bool, len(orgs)))
	}
	var out []Approval
	for j, o := range orgs {
		if owner[j] >= 0 {
			out = append(out, Approval{Org: o.ID, Signer: signers[owner[j]]})
		}
	}
	return out
}
