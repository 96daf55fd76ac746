package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/client"
	_ "github.com/dstt/dstt/transport/client/cometrpc" // tcp:// in Connect
)

// TestConnectDefaultsToTheGateway: the SDK's default transport is the REST
// gateway: an empty address is DefaultAddress, a bare HOST:PORT is the
// gateway, and only tcp:// asks for CometBFT's RPC.
func TestConnectDefaultsToTheGateway(t *testing.T) {
	var paths []string
	gw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths = append(paths, r.URL.Path)
		if r.URL.Path != api.PathStatus {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(api.Status{ChainID: "gw-chain", LatestHeight: 7})
	}))
	defer gw.Close()

	c, err := client.Connect("")
	if err != nil || c.Addr() != client.DefaultAddress || !strings.HasPrefix(client.DefaultAddress, "http://127.0.0.1:") {
		t.Fatalf("Connect(\"\"): addr %q, %v", c.Addr(), err)
	}
	c.Close()

	bare := strings.TrimPrefix(gw.URL, "http://")
	for _, addr := range []string{bare, gw.URL} {
		c, err := client.Connect(addr)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.ChainInfo(context.Background())
		c.Close()
		if err != nil || info.ChainID != "gw-chain" || info.LatestHeight != 7 {
			t.Fatalf("Connect(%q).ChainInfo: %+v, %v", addr, info, err)
		}
	}
	if len(paths) != 2 || paths[0] != api.PathStatus {
		t.Fatalf("gateway saw %v", paths)
	}
	// tcp:// is the explicit request for the RPC: the gateway sees nothing.
	c, err = client.Connect("tcp://" + bare)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ChainInfo(context.Background()); err == nil {
		t.Fatal("an RPC client got an answer from a REST gateway")
	}
	for _, p := range paths[2:] {
		if strings.HasPrefix(p, "/v1/") {
			t.Fatalf("RPC client called the gateway's %s", p)
		}
	}
}
