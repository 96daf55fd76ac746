package consensus

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/crypto/ed25519"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
)

// CometBFT's privval load and save functions call os.Exit or panic on a bad file; these
// return errors instead and write the same JSON formats.

// NodeKeys are a node's two identities: its p2p key (node_key.json; the node ID and the
// libp2p peer ID derive from it) and its consensus signing key (priv_validator_key.json).
// Generating them before the homes exist lets a multi-node genesis and every node's peer
// list name all nodes up front (InitOptions.Keys); InitHome otherwise makes fresh ones.
type NodeKeys struct {
	NodeKey      crypto.PrivKey
	ValidatorKey crypto.PrivKey
}

// GenerateNodeKeys returns fresh ed25519 node and validator keys.
func GenerateNodeKeys() NodeKeys {
	return NodeKeys{NodeKey: ed25519.GenPrivKey(), ValidatorKey: ed25519.GenPrivKey()}
}

// NodeID is the p2p node ID (hex address of the node key), as in persistent_peers.
func (k NodeKeys) NodeID() string { return string(p2p.PubKeyToID(k.NodeKey.PubKey())) }

// ValidatorPubKey is the consensus public key, as listed in genesis.
func (k NodeKeys) ValidatorPubKey() crypto.PubKey { return k.ValidatorKey.PubKey() }

func (k NodeKeys) validate() error {
	var problems []string
	if k.NodeKey == nil || k.NodeKey.Type() != ed25519.KeyType {
		problems = append(problems, "node key: want an ed25519 key")
	}
	if k.ValidatorKey == nil || k.ValidatorKey.Type() != ed25519.KeyType {
		problems = append(problems, "validator key: want an ed25519 key")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// genValidatorKey writes priv as priv_validator_key.json and a zero
// priv_validator_state.json, and returns the public key.
func genValidatorKey(priv crypto.PrivKey, keyFile, stateFile string) (crypto.PubKey, error) {
	pv := privval.NewFilePV(priv, keyFile, stateFile)
	if err := saveJSON(keyFile, pv.Key); err != nil {
		return nil, fmt.Errorf("consensus: writing validator key: %w", err)
	}
	if err := saveJSON(stateFile, &pv.LastSignState); err != nil {
		return nil, fmt.Errorf("consensus: writing validator state: %w", err)
	}
	return pv.Key.PubKey, nil
}

// genNodeKey writes priv as node_key.json.
func genNodeKey(priv crypto.PrivKey, file string) error {
	if err := saveJSON(file, &p2p.NodeKey{PrivKey: priv}); err != nil {
		return fmt.Errorf("consensus: writing node key: %w", err)
	}
	return nil
}

func loadValidatorKey(keyFile string) (privval.FilePVKey, error) {
	var key privval.FilePVKey
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return key, fmt.Errorf("consensus: reading validator key: %w", err)
	}
	if err := cmtjson.Unmarshal(data, &key); err != nil {
		return key, fmt.Errorf("consensus: decoding validator key %s: %w", keyFile, err)
	}
	if key.PrivKey == nil {
		return key, fmt.Errorf("consensus: validator key %s has no priv_key", keyFile)
	}
	key.PubKey = key.PrivKey.PubKey()
	key.Address = key.PubKey.Address()
	return key, nil
}

// loadFilePV loads the validator key and its last-sign state. A missing state file is an
// error, not a fresh start: without it the double-sign guard would be gone.
func loadFilePV(keyFile, stateFile string) (*privval.FilePV, error) {
	key, err := loadValidatorKey(keyFile)
	if err != nil {
		return nil, err
	}
	pv := privval.NewFilePV(key.PrivKey, keyFile, stateFile)
	data, err := os.ReadFile(stateFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s is missing; refusing to sign without the last-sign state", ErrNotInitialised, stateFile)
	}
	if err != nil {
		return nil, fmt.Errorf("consensus: reading validator state: %w", err)
	}
	// Unmarshal fills the exported fields and keeps the file path NewFilePV set.
	if err := cmtjson.Unmarshal(data, &pv.LastSignState); err != nil {
		return nil, fmt.Errorf("consensus: decoding validator state %s: %w", stateFile, err)
	}
	return pv, nil
}

// saveJSON writes v as CometBFT-flavoured JSON (mode 0600) via a synced temp file and a
// rename, so a crash leaves either the old file or the new one.
func saveJSON(path string, v any) error {
	data, err := cmtjson.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(privateFilePerm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
