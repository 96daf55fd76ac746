package types

// Org is a consortium member organisation (in genesis, and as QueryOrgs
// answers it).
type Org struct {
	ID string `json:"id"`
	// Admins are the addresses of the org's admin keys.
	Admins []string `json:"admins"`
	// Validators are the hex ed25519 public keys of the org's validators.
	Validators []string `json:"validators,omitempty"`
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
