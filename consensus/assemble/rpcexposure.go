package assemble

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/consensus"
)

// rpcExposure decides how CometBFT's RPC may listen. With access control
// on, NewNode gets RequireLoopbackRPC, unless unsafePublic: then a loud
// warning on console, and publicRPC names the public listeners for the node
// log. Without access control every signer may read everything anyway, so
// the RPC adds no exposure.
func rpcExposure(h *consensus.Home, eng *engine.Engine, unsafePublic bool, console io.Writer) (opts []consensus.NodeOption, publicRPC []string, err error) {
	on, err := accessControlOn(h, eng)
	if err != nil || !on {
		return nil, nil, err
	}
	c, err := h.Config()
	if err != nil {
		return nil, nil, err
	}
	public := consensus.PublicRPCListeners(c)
	if !unsafePublic {
		if len(public) > 0 {
			return nil, nil, publicRPCHint(fmt.Errorf("%w: %s", consensus.ErrPublicRPC, strings.Join(public, ", ")))
		}
		return []consensus.NodeOption{consensus.RequireLoopbackRPC()}, nil, nil
	}
	if len(public) > 0 {
		fmt.Fprintf(console, `
WARNING: --unsafe-public-rpc: access control is on, yet CometBFT's RPC listens on %s.
WARNING: Anyone who reaches it reads every block, tx and stored value (/block, /tx,
WARNING: /block_results) without authentication, whatever the RBAC policy says.
WARNING: Clients belong on the REST gateway. This start is recorded in the node security log.

`, strings.Join(public, ", "))
	}
	return nil, public, nil
}

// accessControlOn reports whether the chain has access control: the
// engine's state once the chain is initialised, else the genesis (admins or
// organisations named, which InitChain turns into grants).
func accessControlOn(h *consensus.Home, eng *engine.Engine) (bool, error) {
	if eng.Initialised() {
		return !eng.Reader().Open(), nil
	}
	gen, err := h.Genesis()
	if err != nil {
		return false, err
	}
	gs, err := engine.DecodeGenesisState(gen.AppState)
	if err != nil {
		return true, nil // InitChain reports it; until then assume the strict case
	}
	return len(gs.Admins) > 0 || len(gs.Orgs) > 0, nil
}

// publicRPCHint adds what to do to an ErrPublicRPC.
func publicRPCHint(err error) error {
	if !errors.Is(err, consensus.ErrPublicRPC) {
		return err
	}
	return fmt.Errorf("%w\naccess control is on (genesis names admins), so CometBFT's RPC must listen on loopback: set rpc.laddr to tcp://127.0.0.1:PORT in config.toml; clients use the REST gateway (--rest-laddr). To expose the RPC anyway, start with --unsafe-public-rpc (recorded in the node security log)", err)
}
