package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dstt/dstt/consensus"
)

// defaultRPC is CometBFT's default RPC address: the operator port, used
// when neither --node nor the home names one.
const defaultRPC = "tcp://127.0.0.1:26657"

// clientConfig is HOME/config/client.json: the defaults the CLI uses to
// talk to this home's node. `dstt init` writes it; `dstt start` records
// the addresses it serves (rest, rpc).
type clientConfig struct {
	// Node is the default --node, set by hand (or by the testnet
	// generator): tcp:// there is an explicit choice of CometBFT's RPC.
	// dstt init and start leave it empty, so the CLI uses the gateway.
	Node           string `json:"node,omitempty"`
	REST           string `json:"rest,omitempty"` // the REST gateway, http(s)://HOST:PORT
	RPC            string `json:"rpc,omitempty"`  // CometBFT's RPC (operator port), tcp://HOST:PORT
	KeyringBackend string `json:"keyring_backend,omitempty"`
	From           string `json:"from,omitempty"`
	// TLS files for an https:// gateway (--ca, --cert, --key).
	TLSCA   string `json:"tls_ca,omitempty"`
	TLSCert string `json:"tls_cert,omitempty"`
	TLSKey  string `json:"tls_key,omitempty"`
}

// recordAddresses stores the addresses a starting node serves in the
// home's client.json, keeping the other settings, so the CLI on this home
// finds the gateway without --node.
func recordAddresses(home, rest, rpc string) error {
	cc, err := loadClientConfig(home)
	if err != nil {
		return err
	}
	if cc.REST == rest && cc.RPC == rpc {
		return nil
	}
	cc.REST, cc.RPC = rest, rpc
	return saveClientConfig(home, cc)
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
