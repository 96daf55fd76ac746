package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dstt/dstt/consensus"
)

const defaultNode = "tcp://127.0.0.1:26657"

// clientConfig is HOME/config/client.json: the defaults the CLI uses to
// talk to this home's node. `dstt start --dev` writes it.
type clientConfig struct {
	Node           string `json:"node,omitempty"`
	KeyringBackend string `json:"keyring_backend,omitempty"`
	From           string `json:"from,omitempty"`
}

func defaultHome() string { return consensus.DefaultHomeDir() }

func clientConfigPath(home string) string { return filepath.Join(home, "config", "client.json") }

func loadClientConfig(home string) (clientConfig, error) {
	var cc clientConfig
	b, err := os.ReadFile(clientConfigPath(home))
	if errors.Is(err, os.ErrNotExist) {
		return cc, nil
	}
	if err != nil {
		return cc, err
	}
	if err := json.Unmarshal(b, &cc); err != nil {
		return cc, fmt.Errorf("%s: %v (fix or delete the file)", clientConfigPath(home), err)
	}
	return cc, nil
}

func saveClientConfig(home string, cc clientConfig) error {
	b, err := json.MarshalIndent(cc, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(clientConfigPath(home), append(b, '\n'), 0o644)
}
