package types

import "strings"

// Peer admission. Each member org registers the P2P node IDs of its nodes
// (RegisterNode, RemoveNode; signed by an admin of the org). CometBFT asks
// the application about every peer when p2p filter_peers is on: the node
// answers these paths from committed state, code 0 to admit, CodeUnauthorized
// to refuse.
const (
	// QueryPeerFilterID + a node ID: is the node registered for a member org?
	QueryPeerFilterID = "/p2p/filter/id/"
	// QueryPeerFilterAddr + host:port: always admitted. Membership is by node
	// ID, which the P2P handshake authenticates; addresses are not on chain.
	QueryPeerFilterAddr = "/p2p/filter/addr/"
	// QueryNodes answers JSON []NodeView: every registered node.
	QueryNodes = "/p2p/nodes"
)

// NodeView is a registered node as QueryNodes answers it.
type NodeView struct {
	ID  string `json:"id"`  // CometBFT node ID
	Org string `json:"org"` // the member org it is registered for
}

// IsNodeID reports whether s is a CometBFT node ID as the chain records it:
// 40 lowercase hex digits (the address of the node's p2p key).
func IsNodeID(s string) bool { return IsAddress(s) }

// NormalizeNodeID lower-cases a node ID as operators may paste it.
func NormalizeNodeID(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// checkNodeOp is the stateless check of RegisterNode and RemoveNode.
func checkNodeOp(name string, empty bool, nodeID, org string) (Code, string) {
	switch {
	case empty:
		return CodeInvalidOp, "empty " + name
	case !IsNodeID(nodeID):
		return CodeInvalidOp, name + " needs a node_id of 40 lowercase hex digits (dstt node id prints it)"
	case org == "":
		return CodeInvalidOp, name + " needs an org"
	}
	return CodeOK, ""
}
