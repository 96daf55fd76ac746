package abci

import (
	"encoding/json"
	"strings"

	"github.com/dstt/dstt/types"
)

// queryPeerFilter answers CometBFT's peer filter (p2p filter_peers): the
// paths types.QueryPeerFilterID + ID and types.QueryPeerFilterAddr + ADDR.
// An ID is admitted by engine.Reader.PeerAdmitted (committed state); a
// refusal is ErrUnauthorized, so the node's security log records it like
// any refused read. Every address is admitted: membership is by node ID.
// ok is false for any other path.
func (a *App) queryPeerFilter(path string) (ok bool, err error) {
	if id, found := strings.CutPrefix(path, types.QueryPeerFilterID); found {
		return true, a.reader.PeerAdmitted(id)
	}
	return strings.HasPrefix(path, types.QueryPeerFilterAddr), nil
}

// queryNodes lists the registered nodes: readable as the member orgs are.
func (a *App) queryNodes(q queryRequest) ([]byte, error) {
	orgs, _, err := a.reader.Orgs()
	if err != nil {
		return nil, err
	}
	if err := a.membersReadable(q.reader, orgs, "", "the registered nodes"); err != nil {
		return nil, err
	}
	nodes, err := a.reader.Nodes()
	if err != nil {
		return nil, err
	}
	return json.Marshal(nodes)
}
