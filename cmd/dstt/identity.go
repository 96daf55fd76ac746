package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/types"
)

// A key acts for one identity: the address of the identity's first key,
// which RBAC grants name. A key never rotated is its own identity; after
// dstt keys rotate the keyring's key is the identity's new key, and the
// CLI remembers which identity it acts for in HOME/keyring/identities.json
// (key address -> identity address), so keys show and list print the
// identity as "address". The chain is the authority: dstt keys history
// asks it and refreshes the record.

func identitiesPath(home string) string { return filepath.Join(keyringDir(home), "identities.json") }

// loadIdentities reads the home's key-to-identity record (empty if none).
func loadIdentities(home string) (map[string]string, error) {
	m := map[string]string{}
	b, err := os.ReadFile(identitiesPath(home))
	if errors.Is(err, os.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	err = json.Unmarshal(b, &m)
	for k, id := range m {
		if err == nil && (!types.IsAddress(k) || !types.IsAddress(id)) {
			err = fmt.Errorf("entry %q: %q: not a key address and an identity address (40 lowercase hex digits each)", k, id)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v (fix or delete it; dstt keys history NAME rebuilds an entry from the chain)", identitiesPath(home), err)
	}
	return m, nil
}

// recordIdentity remembers which identity each key of v acts for (a key
// that is its own identity needs no entry).
func recordIdentity(home string, v types.IdentityView) error {
	m, err := loadIdentities(home)
	if err != nil {
		return err
	}
	changed := false
	for _, k := range v.Keys {
		switch {
		case k.Address == v.Identity:
			if _, ok := m[k.Address]; ok {
				delete(m, k.Address)
				changed = true
			}
		case m[k.Address] != v.Identity:
			m[k.Address] = v.Identity
			changed = true
		}
	}
	if !changed {
		return nil
	}
	b, err := json.MarshalIndent(m, "", "  ") // encoding/json sorts map keys
	if err != nil {
		return err
	}
	if err := os.MkdirAll(keyringDir(home), 0o700); err != nil {
		return err
	}
	tmp := identitiesPath(home) + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, identitiesPath(home))
}

// identityOf is the identity the key with address keyAddr acts for, as far
// as this home knows.
func identityOf(ids map[string]string, keyAddr string) string {
	if id, ok := ids[keyAddr]; ok {
		return id
	}
	return keyAddr
}

// identityJSON is what keys history and query identity print.
type identityJSON struct {
	Name     string              `json:"name,omitempty"` // keys history: the keyring's name
	Identity string              `json:"identity"`
	Current  string              `json:"current_pub_key,omitempty"`
	Keys     []types.IdentityKey `json:"keys"`
}

func (out identityJSON) text(w io.Writer) {
	if out.Name != "" {
		fmt.Fprintf(w, "key %q acts for identity %s\n", out.Name, out.Identity)
	} else {
		fmt.Fprintf(w, "identity %s\n", out.Identity)
	}
	if len(out.Keys) == 0 {
		fmt.Fprintf(w, "no rotation on chain: its only key is %s itself\n", out.Identity)
		return
	}
	fmt.Fprintf(w, "%-42s %-8s %-8s %s\n", "KEY ADDRESS", "SINCE", "RETIRED", "PUB KEY")
	for _, k := range out.Keys {
		retired := "current"
		if k.RetiredAt != 0 {
			retired = fmt.Sprint(k.RetiredAt)
		}
		fmt.Fprintf(w, "%-42s %-8d %-8s %s\n", k.Address, k.Since, retired, k.PubKey)
	}
}

// lookupIdentity asks the node (committed state, through the gateway) for
// the identity of the key with address addr, signing the read with s (nil:
// unsigned). On a chain with access control the node answers org admins,
// policy readers and the identity itself.
func (g *globals) lookupIdentity(s security.Signer, addr string) (identityJSON, error) {
	var v types.IdentityView
	err := g.membersReadAs(s, func(ctx context.Context, c *client.Client) error {
		var err error
		v, err = c.Identity(ctx, addr)
		return err
	})
	if err != nil {
		return identityJSON{}, err
	}
	if v.Keys == nil {
		v.Keys = []types.IdentityKey{}
	}
	return identityJSON{Identity: v.Identity, Current: v.Current, Keys: v.Keys}, nil
}

// newQueryIdentityCmd is `query identity`; from is the parent's --from.
func newQueryIdentityCmd(g *globals, from *string) *cobra.Command {
	return &cobra.Command{
		Use:   "identity ADDRESS",
		Short: "Show the identity an address (of an identity or any key it had) acts for, and its key history",
		Long: `Show the identity an address acts for and its key history. On a chain with
access control the read is signed with --from (default: the home's key) and
answered to org admins, policy readers (admins, the auditor role) and a key
of the identity itself.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			s, err := g.signerFor(*from, "to sign the read; --from - for unsigned")
			if err != nil {
				return err
			}
			out, err := g.lookupIdentity(s, args[0])
			if err != nil {
				return err
			}
			return g.print(out, out.text)
		},
	}
}

func newKeysHistoryCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "history NAME",
		Short: "Show the identity the key NAME acts for and the identity's key history, from the chain",
		Long: `Ask the node (committed state) which identity the key NAME acts for and which
keys that identity has had; the address RBAC grants name is the identity.
The read is signed with the key NAME itself (an identity may read its own
history; a retired key reads nothing: ask with its successor). The answer
also refreshes this home's record of the key's identity, which
dstt keys show and list print as "address".`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			_, k, err := g.showKey(args[0])
			if err != nil {
				return err
			}
			s, err := g.signerFor(k.Name, "the key whose identity is read, which signs the read")
			if err != nil {
				return err
			}
			out, err := g.lookupIdentity(s, k.Address)
			if err != nil {
				return err
			}
			out.Name = k.Name
			if err := recordIdentity(g.home, types.IdentityView{Identity: out.Identity, Keys: append(out.Keys, types.IdentityKey{Address: k.Address})}); err != nil {
				return err
			}
			return g.print(out, out.text)
		},
	}
}

// keyJSON is a key as keys show/list/add print it: "address" is the
// identity the key acts for (what RBAC grants name), "key_address" the
// key's own address.
type keyJSON struct {
	Name       string `json:"name"`
	Address    string `json:"address"`
	KeyAddress string `json:"key_address"`
	PubKey     string `json:"pub_key"`
	Backend    string `json:"backend"`
}

func toKeyJSON(ids map[string]string, k keyring.KeyInfo) keyJSON {
	return keyJSON{Name: k.Name, Address: identityOf(ids, k.Address), KeyAddress: k.Address, PubKey: fmt.Sprintf("%x", k.PubKey), Backend: k.Backend}
}

// keysJSON converts keys, sorted by name.
func (g *globals) keysJSON(ks ...keyring.KeyInfo) ([]keyJSON, error) {
	ids, err := loadIdentities(g.home)
	if err != nil {
		return nil, err
	}
	out := make([]keyJSON, len(ks))
	for i, k := range ks {
		out[i] = toKeyJSON(ids, k)
	}
	slices.SortFunc(out, func(a, b keyJSON) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}
