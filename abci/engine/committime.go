package engine

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/storage"
)

// Commit times of the consensus audit chain. A block's own time is BFT
// time: the median of the precommit times of the block before it, so with
// create_empty_blocks=false the first block after an idle spell carries
// the time of the last commit, however long ago. The time a block H was
// committed is in the header of block H+1 (the median of H's precommit
// times), and because block H changed the app hash CometBFT makes block
// H+1 at once (timeout_commit later). So when block H appended audit
// entries, FinalizeBlock(H+1) records:
//
//	nsCommitTime + 8-byte big-endian H -> 8-byte big-endian Unix nanoseconds
//	settledKey -> uvarint seq || hash: the audit head after H, the last
//	              entry whose commit time is known
//
// Both derive from agreed block headers, so every node writes the same
// bytes, but neither is part of the state hash or the app hash: the hashed
// entry keeps its block time (audit.Entry.Time) and readers get the
// commit time beside it (audit.Entry.CommitTime).
const (
	nsCommitTime = 'c'
	nsSettled    = 's'
)

var settledKey = []byte{nsSettled}

func commitTimeKey(height uint64) []byte { return numberedKey(nsCommitTime, height) }

// stageCommitTime records, in block b, the commit time of the block before
// it when that block appended audit entries. It adds derived writes only,
// after the state hash is computed.
func (e *Engine) stageCommitTime(st *staged, b *Block) {
	if e.head.Seq == 0 || e.headHeight+1 != b.Height || b.Time.IsZero() {
		return
	}
	ver := storage.Version{Height: b.Height}
	nanos := binary.BigEndian.AppendUint64(nil, uint64(b.Time.UnixNano()))
	st.writes = append(st.writes,
		storage.Entry{Key: commitTimeKey(e.headHeight), Value: nanos, Version: ver},
		storage.Entry{Key: settledKey, Value: encodeChainHead(e.head), Version: ver})
}

// encodeChainHead is uvarint seq || hash: the settled-head record, and the
// tail of the head record (encodeHeadRecord).
func encodeChainHead(h audit.ChainHead) []byte {
	return append(binary.AppendUvarint(nil, h.Seq), h.Hash...)
}

func decodeChainHead(v []byte) (audit.ChainHead, error) {
	seq, n := binary.Uvarint(v)
	if n <= 0 {
		return audit.ChainHead{}, errors.New("abci: bad settled-head record")
	}
	return audit.ChainHead{Seq: seq, Hash: append([]byte(nil), v[n:]...)}, nil
}

// loadHeadHeight sets e.headHeight: the height of the block that appended
// the head entry.
func (e *Engine) loadHeadHeight() error {
	if e.head.Seq == 0 {
		return nil
	}
	es, err := readAuditEntries(e.store, e.head.Seq, 1, e.head.Seq)
	if err != nil {
		return err
	}
	e.headHeight = es[0].Height
	return nil
}

// commitTimes looks up commit times by height for readAuditEntries,
// remembering the last one (a page holds runs of one height).
type commitTimes struct {
	store  storage.Store
	height uint64
	t      time.Time
}

func (c *commitTimes) at(height uint64) (time.Time, error) {
	if height == c.height && height != 0 {
		return c.t, nil
	}
	ent, ok, err := c.store.Get(commitTimeKey(height), 0)
	if err != nil {
		return time.Time{}, err
	}
	c.height, c.t = height, time.Time{}
	if ok && len(ent.Value) == 8 {
		c.t = time.Unix(0, int64(binary.BigEndian.Uint64(ent.Value))).UTC()
	}
	return c.t, nil
}

// settledHead is the last audit head whose entries' commit times are
// recorded (the zero head before any).
func settledHead(store storage.Store) (audit.ChainHead, error) {
	ent, ok, err := store.Get(settledKey, 0)
	if err != nil || !ok {
		return audit.ChainHead{}, err
	}
	return decodeChainHead(ent.Value)
}
