package consensus

import (
	"errors"
	"strings"
	"testing"

	"github.com/cometbft/cometbft/abci/example/kvstore"
)

func TestIsLoopbackListen(t *testing.T) {
	for addr, want := range map[string]bool{
		"tcp://127.0.0.1:26657":  true,
		"tcp://127.8.9.1:26657":  true,
		"tcp://localhost:26657":  true,
		"tcp://[::1]:26657":      true,
		"127.0.0.1:26657":        true,
		"unix:///tmp/rpc.sock":   true,
		"tcp://0.0.0.0:26657":    false,
		"tcp://:26657":           false,
		"tcp://[::]:26657":       false,
		"tcp://10.1.2.3:26657":   false,
		"tcp://node1.corp:26657": false,
		"tcp://127.0.0.1":        false, // no port: not an address
	} {
		if got := IsLoopbackListen(addr); got != want {
			t.Errorf("IsLoopbackListen(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestNewNodeRefusesPublicRPC: with RequireLoopbackRPC, a home whose RPC
// (or gRPC, or pprof) listens beyond loopback is refused before anything
// opens; the default address is loopback and accepted.
func TestNewNodeRefusesPublicRPC(t *testing.T) {
	opts := testOptions(t)
	public := strings.Replace(opts.RPCListen, "127.0.0.1", "0.0.0.0", 1)
	opts.RPCListen = public
	home, err := InitHome(opts)
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewNode(home, kvstore.NewInMemoryApplication(), nil, RequireLoopbackRPC())
	if !errors.Is(err, ErrPublicRPC) || !strings.Contains(err.Error(), "rpc.laddr="+public) {
		t.Fatalf("NewNode with a public rpc.laddr: %v", err)
	}
	// Nothing was opened: a node on the same home builds (without the option).
	n, err := NewNode(home, kvstore.NewInMemoryApplication(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Stop(); err != nil {
		t.Fatal(err)
	}

	c, err := NewConfig(home.Dir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := PublicRPCListeners(c); len(got) != 0 || c.RPC.ListenAddress != DefaultRPCListen || !IsLoopbackListen(DefaultRPCListen) {
		t.Fatalf("defaults: rpc.laddr %s, public listeners %v", c.RPC.ListenAddress, got)
	}
	c.RPC.PprofListenAddress = "0.0.0.0:6060"
	if got := PublicRPCListeners(c); len(got) != 1 || got[0] != "rpc.pprof_laddr=0.0.0.0:6060" {
		t.Fatalf("pprof: %v", got)
	}
}
