package main

import (
	"strings"
	"testing"

	"github.com/dstt/dstt/transport/client"
)

// TestResolveNode: the CLI talks to the REST gateway unless RPC is asked
// for (--transport rpc, a tcp:// --node, or a tcp:// node set in
// client.json).
func TestResolveNode(t *testing.T) {
	home := t.TempDir()
	for _, tc := range []struct {
		name            string
		node, transport string
		cc              clientConfig
		wantNode, wantT string
		wantRPC         string
		wantErr         string
	}{
		{name: "defaults", wantNode: client.DefaultAddress, wantT: transportREST, wantRPC: defaultRPC},
		{name: "recorded by start", cc: clientConfig{REST: "http://127.0.0.1:9100", RPC: "tcp://127.0.0.1:9101"},
			wantNode: "http://127.0.0.1:9100", wantT: transportREST, wantRPC: "tcp://127.0.0.1:9101"},
		{name: "client.json node tcp:// (testnet, set by hand)", cc: clientConfig{Node: "tcp://127.0.0.1:9101", REST: "http://127.0.0.1:9100"},
			wantNode: "tcp://127.0.0.1:9101", wantT: transportRPC, wantRPC: "tcp://127.0.0.1:9101"},
		{name: "client.json node tcp://, --transport rest", transport: "rest", cc: clientConfig{Node: "tcp://127.0.0.1:9101", REST: "http://127.0.0.1:9100"},
			wantNode: "http://127.0.0.1:9100", wantT: transportREST, wantRPC: "tcp://127.0.0.1:9101"},
		{name: "client.json node http://", cc: clientConfig{Node: "http://gw:1", REST: "http://127.0.0.1:9100"},
			wantNode: "http://gw:1", wantT: transportREST, wantRPC: defaultRPC},
		{name: "--transport rpc", transport: "rpc", cc: clientConfig{REST: "http://127.0.0.1:9100", RPC: "tcp://127.0.0.1:9101"},
			wantNode: "tcp://127.0.0.1:9101", wantT: transportRPC, wantRPC: "tcp://127.0.0.1:9101"},
		{name: "--node tcp://", node: "tcp://10.0.0.5:26657",
			wantNode: "tcp://10.0.0.5:26657", wantT: transportRPC, wantRPC: "tcp://10.0.0.5:26657"},
		{name: "--node https://", node: "https://gw.example:8443",
			wantNode: "https://gw.example:8443", wantT: transportREST, wantRPC: defaultRPC},
		{name: "bare --node", node: "127.0.0.1:9100", wantNode: "http://127.0.0.1:9100", wantT: transportREST, wantRPC: defaultRPC},
		{name: "bare --node, rpc", node: "127.0.0.1:9101", transport: "rpc", wantNode: "tcp://127.0.0.1:9101", wantT: transportRPC, wantRPC: "tcp://127.0.0.1:9101"},
		{name: "conflict", node: "tcp://127.0.0.1:1", transport: "rest", wantErr: "--transport rest"},
		{name: "bad transport", transport: "grpc", wantErr: "--transport must be"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &globals{home: home, node: tc.node, transport: tc.transport}
			err := g.resolveNode(tc.cc)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || g.node != tc.wantNode || g.transport != tc.wantT || g.rpc != tc.wantRPC {
				t.Fatalf("node %q transport %q rpc %q, %v; want %q %q %q", g.node, g.transport, g.rpc, err, tc.wantNode, tc.wantT, tc.wantRPC)
			}
		})
	}
}
