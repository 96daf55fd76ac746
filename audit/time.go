package audit

import "time"

// TimeSource names the clock an entry's event time (Entry.EventTime) was
// read from. The values are stable strings: exports carry them.
type TimeSource string

// Clocks an event time can come from.
const (
	// TimeCommit: the entry's block was committed at this time — the BFT
	// time in the header of the next block, the median of the validators'
	// precommit times for the entry's block (Entry.CommitTime).
	TimeCommit TimeSource = "commit"
	// TimeBlock: the block's own BFT time (Entry.Time), which is the
	// commit time of the block before it; after an idle spell it can be
	// much older than the tx. Used while the next block, which carries the
	// commit time, does not exist yet.
	TimeBlock TimeSource = "block"
	// TimeNode: node-chain entries, stamped with the node's wall clock
	// when it recorded the event.
	TimeNode TimeSource = "node"
)

// NodeLocal reports whether k is a node-chain kind (recorded by one node
// with its wall clock) rather than a consensus-chain kind.
func (k Kind) NodeLocal() bool {
	switch k {
	case KindNodeStarted, KindNodeStopped, KindCheckTxRejected, KindAuthFailed, KindConfigLoaded, KindNodeLogTruncated:
		return true
	}
	return false
}

// EventTime is when the recorded event happened, as well as this entry
// knows, and which clock that time comes from: the commit time when known
// (TimeCommit), else the node's clock for node-chain kinds (TimeNode), else
// the block time (TimeBlock). Formats use it as the record's timestamp;
// Time stays the hashed field.
func (e *Entry) EventTime() (time.Time, TimeSource) {
	switch {
	case !e.CommitTime.IsZero():
		return e.CommitTime.UTC(), TimeCommit
	case e.Kind.NodeLocal():
		return e.Time.UTC(), TimeNode
	}
	return e.Time.UTC(), TimeBlock
}
