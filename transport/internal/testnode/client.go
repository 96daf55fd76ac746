package testnode

import (
	"testing"

	"github.com/dstt/dstt/transport/client"
)

// AdminClient is a REST client of the node's gateway that signs with the
// genesis admin key. The caller closes it.
func (n *Node) AdminClient(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.NewREST(n.URL(), client.WithSigner(n.Admin))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
