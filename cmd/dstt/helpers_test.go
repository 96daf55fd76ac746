package main

import (
	"os"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/testnet/freeport"
	"github.com/dstt/dstt/types"
)

// freePort is a 127.0.0.1 TCP port that was free a moment ago.
var freePort = freeport.Port

func devSigner(t *testing.T, home string) security.Signer {
	t.Helper()
	kr, err := keyring.Open(keyring.BackendTest, keyringDir(home), nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := kr.Signer(devKeyName)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func putBody(k, v string) *types.TxBody {
	return &types.TxBody{Ops: []types.Op{{Sum: &types.Op_Put{Put: &types.Put{Key: k, Value: []byte(v)}}}}}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func writeString(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
