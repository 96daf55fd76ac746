package api

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/dstt/dstt/types"
)

// SSE event names on GET /v1/events.
const (
	EventWrite = "write" // data: a WriteEvent
	EventError = "error" // data: a Problem; the stream ends after it
)

// WriteEvent is one committed write, as streamed on GET /v1/events.
type WriteEvent struct {
	ID          string `json:"id"` // EventID text: HEIGHT.INDEX.WRITE
	Height      int64  `json:"height"`
	TxIndex     uint32 `json:"tx_index"`
	WriteIndex  int    `json:"write_index"`
	TxHash      string `json:"tx_hash"`
	Signer      string `json:"signer,omitempty"`
	Key         string `json:"key"`
	Op          string `json:"op"` // "put" or "delete"
	Version     string `json:"version"`
	Value       string `json:"value,omitempty"`
	ValueBase64 string `json:"value_base64,omitempty"`
	Time        string `json:"time,omitempty"` // the block's time, RFC 3339
}

// Bytes returns the written value (nil for a delete).
func (e WriteEvent) Bytes() ([]byte, error) {
	if e.Op == "delete" {
		return nil, nil
	}
	return DecodeValue(e.Value, e.ValueBase64)
}

// EventID orders committed writes: block height, tx index, write index.
// An id of a height alone ("12") is a checkpoint: it stands after every
// write of that block, so resuming after it starts with the next block.
type EventID struct {
	Height  int64
	TxIndex uint32
	Write   int
}

// Checkpoint is the id that follows every write of block height
// (Checkpoint(0) comes before every write).
func Checkpoint(height int64) EventID {
	return EventID{Height: height, TxIndex: math.MaxUint32, Write: math.MaxInt32}
}

// ErrBadEventID is returned by ParseEventID.
var ErrBadEventID = errors.New("api: bad event id (want HEIGHT.INDEX.WRITE, e.g. 12.0.1, or a checkpoint HEIGHT)")

// ParseEventID parses "HEIGHT.INDEX.WRITE" or a checkpoint "HEIGHT".
func ParseEventID(s string) (EventID, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	h, err := strconv.ParseInt(parts[0], 10, 64)
	if err != nil || h < 0 {
		return EventID{}, fmt.Errorf("%w: %q", ErrBadEventID, s)
	}
	if len(parts) == 1 {
		return Checkpoint(h), nil // "0": before every write
	}
	if h < 1 {
		return EventID{}, fmt.Errorf("%w: %q", ErrBadEventID, s)
	}
	if len(parts) != 3 {
		return EventID{}, fmt.Errorf("%w: %q", ErrBadEventID, s)
	}
	i, err1 := strconv.ParseUint(parts[1], 10, 32)
	w, err2 := strconv.ParseUint(parts[2], 10, 31)
	if err1 != nil || err2 != nil || (i == math.MaxUint32 && w == math.MaxInt32) {
		return EventID{}, fmt.Errorf("%w: %q", ErrBadEventID, s)
	}
	return EventID{Height: h, TxIndex: uint32(i), Write: int(w)}, nil
}

func (id EventID) String() string {
	if id == Checkpoint(id.Height) {
		return strconv.FormatInt(id.Height, 10)
	}
	return fmt.Sprintf("%d.%d.%d", id.Height, id.TxIndex, id.Write)
}

// Less orders ids in commit order.
func (id EventID) Less(o EventID) bool {
	if id.Height != o.Height {
		return id.Height < o.Height
	}
	if id.TxIndex != o.TxIndex {
		return id.TxIndex < o.TxIndex
	}
	return id.Write < o.Write
}

// TxResultData is what BlockWrites reads of a tx's result: CometBFT's
// *abci/types.ExecTxResult has these getters (nil-safe), so a caller passes
// a block's results as they come without this package linking CometBFT.
type TxResultData interface {
	GetCode() uint32
	GetData() []byte
}

// BlockWrites returns every write a committed block made, in commit order:
// txs in block order, each tx's writes in the order the engine reports
// them. txs and results are the block's txs and their FinalizeBlock results
// (results[i] belongs to txs[i]); failed txs wrote nothing. Values come from
// the txs' put ops (a key put twice in one tx keeps the last value).
func BlockWrites[R TxResultData](height int64, blockTime time.Time, txs [][]byte, results []R) []WriteEvent {
	var out []WriteEvent
	ts := ""
	if !blockTime.IsZero() {
		ts = blockTime.UTC().Format(time.RFC3339Nano)
	}
	for i := range min(len(txs), len(results)) {
		res := results[i]
		if res.GetCode() != 0 || len(res.GetData()) == 0 {
			continue
		}
		var rec types.TxResult
		if err := rec.Unmarshal(res.GetData()); err != nil || len(rec.Writes) == 0 {
			continue
		}
		values := putValues(txs[i])
		hash := types.TxHashHex(txs[i])
		for w, wr := range rec.Writes {
			ev := WriteEvent{
				ID:     EventID{Height: height, TxIndex: uint32(i), Write: w}.String(),
				Height: height, TxIndex: uint32(i), WriteIndex: w, TxHash: hash, Signer: rec.Signer,
				Key: wr.Key, Op: "put", Version: wr.Version.Text(), Time: ts,
			}
			if wr.Deleted {
				ev.Op = "delete"
			} else {
				ev.Value, ev.ValueBase64 = EncodeValue(values[wr.Key])
			}
			out = append(out, ev)
		}
	}
	return out
}

// putValues maps each key a tx puts to the last value it puts there.
func putValues(tx []byte) map[string][]byte {
	_, body, err := types.DecodeTx(tx)
	if err != nil {
		return nil
	}
	m := make(map[string][]byte, len(body.Ops))
	for _, op := range body.Ops {
		if p, ok := op.Sum.(*types.Op_Put); ok && p.Put != nil {
			m[p.Put.Key] = p.Put.Value
		}
	}
	return m
}
