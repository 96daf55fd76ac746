package client_test

import (
	"os/exec"
	"strings"
	"testing"
)

// maxClientDeps bounds the packages (the standard library's included) a
// program linking the SDK pulls in.
const maxClientDeps = 250

// forbiddenClientDeps are server code the SDK must never link: the
// storage engine, the policy engine, Vault, libp2p, CometBFT's node, and
// dstt's own engine and node packages, and the validator-side
// verification and key storage (the SDK only signs). A prefix matches its
// sub-packages.
var forbiddenClientDeps = []string{
	"github.com/cockroachdb/pebble",
	"github.com/casbin",
	"github.com/hashicorp/vault",
	"github.com/libp2p",
	"github.com/cometbft/cometbft/node",
	"github.com/cometbft/cometbft/consensus",
	"github.com/cometbft/cometbft/p2p",
	"github.com/cometbft/cometbft/state",
	"github.com/cometbft/cometbft/store",
	"github.com/cometbft/cometbft/mempool",
	"github.com/dstt/dstt/abci",
	"github.com/dstt/dstt/storage",
	"github.com/dstt/dstt/rbac",
	"github.com/dstt/dstt/consensus",
	"github.com/dstt/dstt/security/vault",
	"github.com/dstt/dstt/security/keyring",
	"github.com/oasisprotocol/curve25519-voi",
}

// TestClientImportsNoServerCode: the Go SDK imports the wire contract
// (types, transport/api) and the light signer (security) only, so an
// application that links it links no storage, policy, Vault or node code.
// CometBFT's RPC transport is the sub-package cometrpc, linked only by
// programs that import it.
func TestClientImportsNoServerCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/dstt/dstt/transport/client").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	for _, d := range deps {
		for _, bad := range forbiddenClientDeps {
			if d == bad || strings.HasPrefix(d, bad+"/") {
				t.Errorf("transport/client depends on %s (server code: %s)", d, bad)
			}
		}
	}
	if len(deps) >= maxClientDeps {
		t.Errorf("transport/client depends on %d packages, want under %d", len(deps), maxClientDeps)
	}
}
