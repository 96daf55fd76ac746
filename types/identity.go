package types

// IdentityKey is one key in an identity's history.
type IdentityKey struct {
	PubKey    string `json:"pub_key"` // hex
	Address   string `json:"address"`
	Since     uint64 `json:"since_height"`
	RetiredAt uint64 `json:"retired_at_height,omitempty"`
}

// IdentityView is the answer to QueryIdentity: an identity (the address of
// its first key) and every key it has had, the current one last.
type IdentityView struct {
	Identity string        `json:"identity"`
	Current  string        `json:"current_pub_key,omitempty"`
	Keys     []IdentityKey `json:"keys"`
}
