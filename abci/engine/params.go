package engine

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dstt/dstt/types"
)

// GenesisState is the app_state of a dstt genesis file.
type GenesisState struct {
	Params types.Params `json:"params"`
	// Admins are the addresses (types.Address) that hold admin rights
	// over every domain from genesis: the RBAC bootstrap.
	Admins []string `json:"admins,omitempty"`
	// Orgs are the consortium's member organisations.
	Orgs []types.Org `json:"orgs,omitempty"`
	// Threshold is k in k-of-n: a governance tx needs signatures from
	// admins of k distinct orgs. 0 means a majority of the orgs.
	Threshold uint32 `json:"threshold,omitempty"`
}

// DefaultGenesisState is what `dstt init` writes.
func DefaultGenesisState() GenesisState {
	return GenesisState{Params: types.DefaultParams()}
}

// DecodeGenesisState parses app_state. Empty input means the defaults.
func DecodeGenesisState(appState []byte) (GenesisState, error) {
	var g GenesisState
	if s := strings.TrimSpace(string(appState)); s != "" && s != "null" {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&g); err != nil {
			return g, fmt.Errorf("%w: app_state: %v", types.ErrBadParams, err)
		}
	}
	g.Params = g.Params.WithDefaults()
	return g, g.Params.Validate()
}
