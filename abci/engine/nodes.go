package engine

import (
	"encoding/json"
	"fmt"

	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

// Peer admission: each member org registers its nodes' P2P node IDs
// (RegisterNode, RemoveNode, signed by an admin of the org; authorize
// checks that), genesis may list them per org (types.Org.Nodes), and
// Reader.PeerAdmitted answers CometBFT's peer filter from committed state:
// a node is admitted while it is registered for an org that is a member.
// Removing an org removes its nodes' registrations in the same op.
//
// State: nsNode + node ID -> JSON nodeRecord.
const nsNode = 'n'

// MaxNodesPerOrg bounds the registrations one org can make the chain hold.
const MaxNodesPerOrg = 64

type nodeRecord struct {
	Org string `json:"org"`
}

func nodeKey(id string) []byte { return prefixed(nsNode, id) }

// applyNodeOp executes RegisterNode or RemoveNode (op i of d); a refusal
// fails d (INVALID_OP) and returns nil.
func (e *Engine) applyNodeOp(st *staged, d *decodedTx, i int, ver storage.Version) error {
	switch o := d.body.Ops[i].Sum.(type) {
	case *types.Op_RegisterNode:
		return e.applyRegisterNode(st, d, i, ver, o.RegisterNode)
	case *types.Op_RemoveNode:
		return e.applyRemoveNode(st, d, i, ver, o.RemoveNode)
	}
	return nil
}

func (e *Engine) applyRegisterNode(st *staged, d *decodedTx, i int, ver storage.Version, op *types.RegisterNode) error {
	if _, ok, err := e.memberOrg(st, d, i, op.Org); err != nil || !ok {
		return err
	}
	var rec nodeRecord
	if ok, err := e.readJSON(st, nodeKey(op.NodeId), &rec); err != nil || ok {
		if ok {
			d.failAt(types.CodeInvalidOp, opReason(ruleNodeRegistered, i, op.NodeId), "op %d: node %s is already registered for org %q", i, op.NodeId, rec.Org)
		}
		return err
	}
	n := 0
	if err := e.scanNodes(st, func(_ string, r nodeRecord) {
		if r.Org == op.Org {
			n++
		}
	}); err != nil {
		return err
	}
	if n >= MaxNodesPerOrg {
		d.failAt(types.CodeInvalidOp, opReason(ruleNodeLimit, i, op.Org), "op %d: org %q has %d registered nodes, the limit", i, op.Org, n)
		return nil
	}
	return e.putJSON(st, nodeKey(op.NodeId), nodeRecord{Org: op.Org}, ver)
}

func (e *Engine) applyRemoveNode(st *staged, d *decodedTx, i int, ver storage.Version, op *types.RemoveNode) error {
	var rec nodeRecord
	ok, err := e.readJSON(st, nodeKey(op.NodeId), &rec)
	if err != nil {
		return err
	}
	if !ok || rec.Org != op.Org {
		d.failAt(types.CodeInvalidOp, opReason(ruleNoNode, i, op.NodeId), "op %d: node %s is not registered for org %q", i, op.NodeId, op.Org)
		return nil
	}
	st.put(storage.Entry{Key: nodeKey(op.NodeId), Deleted: true, Version: ver})
	return nil
}

// removeOrgNodes deletes the registrations of org's nodes (RemoveOrg).
func (e *Engine) removeOrgNodes(st *staged, org string, ver storage.Version) error {
	var ids []string
	if err := e.scanNodes(st, func(id string, r nodeRecord) {
		if r.Org == org {
			ids = append(ids, id)
		}
	}); err != nil {
		return err
	}
	for _, id := range ids {
		st.put(storage.Entry{Key: nodeKey(id), Deleted: true, Version: ver})
	}
	return nil
}

// scanNodes calls fn for every registered node, in node ID order, as the
// block sees them (committed state when st is nil).
func (e *Engine) scanNodes(st *staged, fn func(id string, r nodeRecord)) error {
	return e.scanStaged(st, nsNode, func(key, value []byte) error {
		var r nodeRecord
		if err := json.Unmarshal(value, &r); err != nil {
			return fmt.Errorf("abci: stored node %s: %w", key[1:], err)
		}
		fn(string(key[1:]), r)
		return nil
	})
}

// genesisNodes returns the node records of the genesis orgs' nodes, and o
// without its node list (the org record keeps no copy that could go stale).
func genesisNodes(o types.Org, seen map[string]string) (types.Org, []storage.Entry, error) {
	var writes []storage.Entry
	for _, id := range o.Nodes {
		switch {
		case !types.IsNodeID(id):
			return o, nil, fmt.Errorf("%w: org %q: node %q is not a node ID (40 lowercase hex digits)", ErrGenesis, o.ID, id)
		case seen[id] != "":
			return o, nil, fmt.Errorf("%w: node %s is listed for orgs %q and %q", ErrGenesis, id, seen[id], o.ID)
		}
		seen[id] = o.ID
		b, err := json.Marshal(nodeRecord{Org: o.ID})
		if err != nil {
			return o, nil, err
		}
		writes = append(writes, storage.Entry{Key: nodeKey(id), Value: b})
	}
	o.Nodes = nil
	return o, writes, nil
}

// PeerAdmitted is the one peer admission rule: nil when node id is
// registered for a member org in committed state, else ErrUnauthorized
// saying why.
//
// A node without chain state (joining by state sync: CometBFT runs
// InitChain before P2P otherwise) has nothing to decide from: this answers
// nil, and the node admits only the peers its operator configured until
// its snapshot is restored (abci.App.AdmitBeforeState); they still filter it.
func (r Reader) PeerAdmitted(id string) error {
	e := r.e
	if !e.Initialised() {
		return nil
	}
	id = types.NormalizeNodeID(id)
	if !types.IsNodeID(id) {
		return fmt.Errorf("%w: peer %q: not a node ID", ErrUnauthorized, id)
	}
	var rec nodeRecord
	ok, err := e.readCommittedJSON(nodeKey(id), &rec)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: node %s is registered for no member org", ErrUnauthorized, id)
	}
	var org types.Org
	if ok, err := e.readCommittedJSON(prefixed(nsOrg, rec.Org), &org); err != nil || !ok {
		if err == nil {
			err = fmt.Errorf("%w: node %s is registered for org %q, which is not a member", ErrUnauthorized, id, rec.Org)
		}
		return err
	}
	return nil
}

// readCommittedJSON reads a JSON record from committed state.
func (e *Engine) readCommittedJSON(key []byte, v any) (bool, error) {
	ent, ok, err := e.store.Get(key, 0)
	if err != nil || !ok || ent.Deleted {
		return false, err
	}
	return true, json.Unmarshal(ent.Value, v)
}

// Nodes lists the registered nodes in committed state, in node ID order.
func (r Reader) Nodes() ([]types.NodeView, error) {
	out := []types.NodeView{}
	err := r.e.scanNodes(nil, func(id string, rec nodeRecord) {
		out = append(out, types.NodeView{ID: id, Org: rec.Org})
	})
	return out, err
}

// nodeOpAction names a node op for the audit entry.
func nodeOpAction(op *types.Op) (string, string, bool) {
	switch o := op.Sum.(type) {
	case *types.Op_RegisterNode:
		return "register_node", "node:" + o.RegisterNode.NodeId + "@" + o.RegisterNode.Org, true
	case *types.Op_RemoveNode:
		return "remove_node", "node:" + o.RemoveNode.NodeId + "@" + o.RemoveNode.Org, true
	}
	return "", "", false
}
