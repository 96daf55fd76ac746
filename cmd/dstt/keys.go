package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/security"
)

func keyringDir(home string) string { return filepath.Join(home, "keyring") } // = consensus.Home.KeyringDir()

// openKeyring opens the home's keyring with the chosen backend; the file
// backend takes its passphrase from $DSTT_KEYRING_PASSPHRASE or a prompt.
func (g *globals) openKeyring() (security.Keyring, error) {
	pass := security.EnvOrPromptPassphrase("DSTT_KEYRING_PASSPHRASE", os.Stdin, g.stderr)
	return security.OpenKeyring(g.backend, keyringDir(g.home), pass)
}

type keyJSON struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	PubKey  string `json:"pub_key"`
	Backend string `json:"backend"`
}

func toKeyJSON(k security.KeyInfo) keyJSON {
	return keyJSON{Name: k.Name, Address: k.Address, PubKey: fmt.Sprintf("%x", k.PubKey), Backend: k.Backend}
}

func newKeysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage signing keys in the home's keyring"}
	cmd.AddCommand(&cobra.Command{
		Use:   "add NAME",
		Short: "Generate a new ed25519 key",
		Long: `Generate a new ed25519 key and store it in the keyring. With the default file
backend the key is encrypted at rest; the passphrase comes from
$DSTT_KEYRING_PASSPHRASE or a prompt.`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			kr, err := g.openKeyring()
			if err != nil {
				return err
			}
			k, err := kr.Add(args[0])
			if err != nil {
				return err
			}
			return g.print(toKeyJSON(k), func(w io.Writer) {
				fmt.Fprintf(w, "created key %q (%s backend)\naddress: %s\n", k.Name, k.Backend, k.Address)
			})
		},
	}, &cobra.Command{
		Use:   "list",
		Short: "List the keys",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			kr, err := g.openKeyring()
			if err != nil {
				return err
			}
			ks, err := kr.List()
			if err != nil {
				return err
			}
			out := make([]keyJSON, len(ks))
			for i, k := range ks {
				out[i] = toKeyJSON(k)
			}
			return g.print(out, func(w io.Writer) {
				if len(ks) == 0 {
					fmt.Fprintf(w, "no keys in the %s keyring at %s (create one: dstt keys add NAME)\n", g.backendName(), keyringDir(g.home))
				}
				for _, k := range ks {
					fmt.Fprintf(w, "%-20s %s\n", k.Name, k.Address)
				}
			})
		},
	}, &cobra.Command{
		Use:   "show NAME",
		Short: "Show a key's address and public key",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			kr, err := g.openKeyring()
			if err != nil {
				return err
			}
			k, err := kr.Show(args[0])
			if err != nil {
				return fmt.Errorf("%w: %q in the %s keyring (list them: dstt keys list)", err, args[0], g.backendName())
			}
			return g.print(toKeyJSON(k), func(w io.Writer) {
				fmt.Fprintf(w, "name:    %s\naddress: %s\npub_key: %x\nbackend: %s\n", k.Name, k.Address, k.PubKey, k.Backend)
			})
		},
	})
	return cmd
}

func (g *globals) backendName() string {
	if g.backend == "" {
		return security.BackendFile
	}
	return g.backend
}
