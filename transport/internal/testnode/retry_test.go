package testnode

import (
	"net"
	"strings"
	"testing"
)

// A port taken between its pick and the node's bind costs one more attempt
// on fresh ports, not the test.
func TestStartRetriesATakenPort(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	picks := 0
	nodeAddr = func(t testing.TB) string {
		picks++
		if picks == 2 { // the first attempt's RPC address
			return taken.Addr().String()
		}
		return FreeAddr(t)
	}
	defer func() { nodeAddr = FreeAddr }()
	n := Start(t, Options{})
	if picks != 4 {
		t.Fatalf("%d addresses picked, want 4 (two attempts)", picks)
	}
	if strings.Contains(n.Node.CometNode().Config().RPC.ListenAddress, taken.Addr().String()) {
		t.Fatal("the node runs on the taken port")
	}
	if _, err := n.Node.Client().Status(t.Context()); err != nil {
		t.Fatalf("the retried node does not answer: %v", err)
	}
}
