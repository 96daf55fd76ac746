package testnet

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestGenerateWithSubnet: each node gets its own address and namespace name, every
// listen address and peer on that address, and a start command run in the namespace.
func TestGenerateWithSubnet(t *testing.T) {
	nw, err := Generate(Options{Dir: filepath.Join(t.TempDir(), "net"), Validators: 3, Subnet: "10.77.3", BasePort: 24000})
	if err != nil {
		t.Fatal(err)
	}
	n2 := nw.Nodes[1]
	if n2.IP != "10.77.3.2" || n2.Netns != "dstt-77-3-2" || n2.RPC != "tcp://10.77.3.2:24011" || n2.REST != "10.77.3.2:24013" || n2.P2P != "tcp://10.77.3.2:24010" {
		t.Fatalf("node2: %+v", n2)
	}
	if nw.HostAddress() != "10.77.3.254" {
		t.Fatalf("host address %q", nw.HostAddress())
	}
	cmd := n2.Command("dstt")
	if !slices.Equal(cmd[:4], []string{"ip", "netns", "exec", "dstt-77-3-2"}) || !slices.Contains(cmd, "--unsafe-public-rpc") {
		t.Fatalf("command %v", cmd)
	}
	loaded, err := Load(nw.Dir)
	if err != nil || loaded.Subnet != "10.77.3" || loaded.Nodes[2].IP != "10.77.3.3" {
		t.Fatalf("reloaded: %+v %v", loaded, err)
	}
	for _, bad := range []string{"10.77", "10.77.300", "a.b.c", "10.077.3"} {
		if err := (Options{Subnet: bad}).Validate(); !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "subnet") {
			t.Errorf("subnet %q: %v", bad, err)
		}
	}
}
