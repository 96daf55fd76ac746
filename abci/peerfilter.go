package abci

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/types"
)

// queryPeerFilter answers CometBFT's peer filter (p2p filter_peers): the
// paths types.QueryPeerFilterID + ID and types.QueryPeerFilterAddr + ADDR.
// An ID is admitted by engine.Reader.PeerAdmitted (committed state) or,
// while the node has no chain state, by the peers its operator configured
// (AdmitBeforeState); a refusal is ErrUnauthorized, so the node's security
// log records it like any refused read. Every address is admitted:
// membership is by node ID. ok is false for any other path.
func (a *App) queryPeerFilter(path string) (ok bool, err error) {
	if id, found := strings.CutPrefix(path, types.QueryPeerFilterID); found {
		if a.beforeState != nil && !a.engine.Initialised() {
			return true, a.admittedBeforeState(id)
		}
		return true, a.reader.PeerAdmitted(id)
	}
	return strings.HasPrefix(path, types.QueryPeerFilterAddr), nil
}

// AdmitBeforeState restricts the peers a node without chain state admits —
// a node joining by state sync, which has no registered nodes to decide
// from until its snapshot is restored — to ids: the peers its operator
// configured (persistent peers, seeds, unconditional peers). Without it
// such a node admits every peer until restored, so any outsider could
// connect and offer it snapshots to fetch and refuse. Once the state is
// there, PeerAdmitted alone decides, and the node's peer watcher drops a
// configured peer that is not registered. Call before the node starts.
func (a *App) AdmitBeforeState(ids []string) {
	a.beforeState = make(map[string]bool, len(ids))
	for _, id := range ids {
		a.beforeState[types.NormalizeNodeID(id)] = true
	}
}

func (a *App) admittedBeforeState(id string) error {
	if a.beforeState[types.NormalizeNodeID(id)] {
		return nil
	}
	return fmt.Errorf("%w: peer %q: this node has no chain state yet (joining by state sync) and admits only its configured peers", engine.ErrUnauthorized, id)
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
