package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Kind says what an entry records. The values are stable strings: SIEM
// rules match on them.
type Kind string

// Entry kinds. The consensus chain holds the first group (derived from
// block contents only); the node security chain holds the second.
const (
	KindTxCommitted      Kind = "tx_committed"      // a tx in a block, code OK
	KindTxRejected       Kind = "tx_rejected"       // a tx in a block with a non-OK code
	KindRBACDenied       Kind = "rbac_denied"       // a tx refused by access control
	KindPolicyChanged    Kind = "policy_changed"    // an RBAC policy tx applied
	KindValidatorChanged Kind = "validator_changed" // the validator set changed
	KindOrgChanged       Kind = "org_changed"       // a member organisation was added or removed
	KindEvidence         Kind = "evidence"          // misbehaviour evidence committed in a block
	KindGtxStep          Kind = "gtx_step"          // a global transaction moved (begun, answered, deadline)

	KindNodeStarted     Kind = "node_started"     // node-local: the node started
	KindNodeStopped     Kind = "node_stopped"     // node-local: the node stopped cleanly
	KindCheckTxRejected Kind = "checktx_rejected" // node-local: the mempool refused a tx
	KindAuthFailed      Kind = "auth_failed"      // node-local: a client failed authentication
	KindConfigLoaded    Kind = "config_loaded"    // node-local: configuration read at start
	// KindNodeLogTruncated is the node-chain entry OpenNodeLog records when
	// it opens a truncated or damaged log with AcceptTruncated: what was
	// lost, the sequence numbers given up and where damaged bytes went.
	KindNodeLogTruncated Kind = "node_log_truncated"
)

// Kinds returns every kind this version knows, consensus kinds first.
func Kinds() []Kind {
	return []Kind{
		KindTxCommitted, KindTxRejected, KindRBACDenied, KindPolicyChanged,
		KindValidatorChanged, KindOrgChanged, KindEvidence, KindGtxStep,
		KindNodeStarted, KindNodeStopped, KindCheckTxRejected, KindAuthFailed, KindConfigLoaded,
		KindNodeLogTruncated,
	}
}

// Entry is one audit record. Seq, PrevHash and Hash are filled by
// Chain.Append; everything else but CommitTime by whoever records the event.
type Entry struct {
	Seq     uint64    // 1-based position in its chain
	Height  uint64    // block height (node chain: the last height the node knew, or 0)
	TxIndex uint32    // position of the tx in its block
	Time    time.Time // block time in the consensus chain; UTC, nanoseconds
	Kind    Kind
	Actor   string // address of the signer / client, or "" for the node itself
	// Endpoint is the network address (IP) of the client an event came
	// from, when the node saw one: node chain only (the REST gateway's
	// entries), "" in the consensus chain. It is separate from Actor, which
	// names who acted (a signer, "cert:HEX", or "ip:ADDR" for a client
	// known only by its address).
	Endpoint  string
	Action    string   // "put", "delete", "batch", "grant", ...
	Resources []string // keys or other resource names the action touched
	Code      uint32   // outcome code (types.Code); 0 = OK
	CodeName  string   // the code's stable name, e.g. "CONFLICT"
	Message   string   // human-readable outcome
	TxHash    []byte   // SHA-256 of the tx bytes, when there is a tx
	PrevHash  []byte   // Hash of the entry before (empty for Seq 1)
	Hash      []byte   // SHA-256 of EncodeBody()

	// CommitTime is not part of the entry's encoding or hash. In the
	// consensus chain it is when the entry's block was committed: the BFT
	// time in the header of the next block (signed by the validators with
	// that block), filled in by the node that serves the entry once that
	// block exists; zero until then and in the node chain. See EventTime.
	CommitTime time.Time
}

// encodingVersion is the first byte of an encoded entry without an
// Endpoint; endpointVersion of one with (the body then ends with lp
// Endpoint). An entry has one encoding: version 2 only with an endpoint.
const (
	encodingVersion = 1
	endpointVersion = 2
)

// Errors from Decode.
var (
	ErrDecode       = errors.New("audit: malformed entry encoding")
	ErrNonCanonical = errors.New("audit: entry encoding is not canonical")
)

// EncodeBody returns the canonical encoding of every field except Hash:
// the bytes Hash is computed over. Layout, in this order:
//
//	byte     version (1)
//	uvarint  Seq, Height, TxIndex
//	8 bytes  Time as Unix nanoseconds, big-endian two's complement (0 for the zero time)
//	lp       Kind, Actor, Action             (lp = uvarint length, then the bytes)
//	uvarint  number of Resources, then each as lp
//	uvarint  Code
//	lp       CodeName, Message, TxHash, PrevHash
//	lp       Endpoint                        (version 2 only: Endpoint != "")
//
// Version 1 is the layout without the last line; the consensus chain never
// has an Endpoint, so its entries are always version 1.
func (e *Entry) EncodeBody() []byte {
	return e.appendBody(make([]byte, 0, e.size()))
}

// Encode returns EncodeBody followed by Hash (lp): the stored and
// transported form of an entry.
func (e *Entry) Encode() []byte {
	b := e.appendBody(make([]byte, 0, e.size()+1+len(e.Hash)))
	return appendBytes(b, e.Hash)
}

// ComputeHash returns SHA-256(EncodeBody()). It does not read e.Hash.
func (e *Entry) ComputeHash() []byte {
	sum := sha256.Sum256(e.EncodeBody())
	return sum[:]
}

func (e *Entry) size() int {
	n := 1 + 3*binary.MaxVarintLen64 + 8 + 5*binary.MaxVarintLen64 +
		len(e.Kind) + len(e.Actor) + len(e.Action) + len(e.CodeName) + len(e.Message) +
		len(e.TxHash) + len(e.PrevHash) + binary.MaxVarintLen64 + len(e.Endpoint)
	for _, r := range e.Resources {
		n += binary.MaxVarintLen64 + len(r)
	}
	return n + 2*binary.MaxVarintLen64
}

func (e *Entry) appendBody(b []byte) []byte {
	if e.Endpoint == "" {
		b = append(b, encodingVersion)
	} else {
		b = append(b, endpointVersion)
	}
	b = binary.AppendUvarint(b, e.Seq)
	b = binary.AppendUvarint(b, e.Height)
	b = binary.AppendUvarint(b, uint64(e.TxIndex))
	var nanos int64
	if !e.Time.IsZero() {
		nanos = e.Time.UnixNano()
	}
	b = binary.BigEndian.AppendUint64(b, uint64(nanos))
	b = appendString(b, string(e.Kind))
	b = appendString(b, e.Actor)
	b = appendString(b, e.Action)
	b = binary.AppendUvarint(b, uint64(len(e.Resources)))
	for _, r := range e.Resources {
		b = appendString(b, r)
	}
	b = binary.AppendUvarint(b, uint64(e.Code))
	b = appendString(b, e.CodeName)
	b = appendString(b, e.Message)
	b = appendBytes(b, e.TxHash)
	b = appendBytes(b, e.PrevHash)
	if e.Endpoint != "" {
		b = appendString(b, e.Endpoint)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// Decode parses an encoding made by Encode. It accepts only the canonical
// form (re-encoding gives the same bytes), so an entry has exactly one
// encoding. It does not check Hash: that is Verify's job. Decoded byte
// slices do not alias data; Time is in UTC.
func Decode(data []byte) (Entry, error) {
	d := decoder{b: data}
	var e Entry
	v := d.byte()
	if v != encodingVersion && v != endpointVersion {
		if d.err != nil {
			return Entry{}, d.err
		}
		return Entry{}, fmt.Errorf("%w: unknown version %d", ErrDecode, v)
	}
	e.Seq = d.uvarint()
	e.Height = d.uvarint()
	idx := d.uvarint()
	if idx > 1<<32-1 {
		d.fail("tx index %d overflows uint32", idx)
	}
	e.TxIndex = uint32(idx)
	if nanos := int64(d.uint64()); nanos != 0 {
		e.Time = time.Unix(0, nanos).UTC()
	}
	e.Kind = Kind(d.string())
	e.Actor = d.string()
	e.Action = d.string()
	if n := d.uvarint(); n > 0 {
		if n > uint64(len(d.b)) { // each resource takes at least one byte
			d.fail("%d resources in %d bytes", n, len(d.b))
		} else {
			e.Resources = make([]string, 0, n)
			for i := uint64(0); i < n && d.err == nil; i++ {
				e.Resources = append(e.Resources, d.string())
			}
		}
	}
	code := d.uvarint()
	if code > 1<<32-1 {
		d.fail("code %d overflows uint32", code)
	}
	e.Code = uint32(code)
	e.CodeName = d.string()
	e.Message = d.string()
	e.TxHash = d.bytes()
	e.PrevHash = d.bytes()
	if v == endpointVersion {
		e.Endpoint = d.string()
	}
	e.Hash = d.bytes()
	if d.err != nil {
		return Entry{}, d.err
	}
	if len(d.b) != 0 {
		return Entry{}, fmt.Errorf("%w: %d trailing bytes", ErrDecode, len(d.b))
	}
	if !bytes.Equal(e.Encode(), data) {
		return Entry{}, ErrNonCanonical
	}
	return e, nil
}

// decoder reads the primitives of the encoding; the first failure sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrDecode}, args...)...)
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("short input")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("short input")
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) raw() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail("length %d exceeds the %d bytes left", n, len(d.b))
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string { return string(d.raw()) }

func (d *decoder) bytes() []byte {
	v := d.raw()
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

// Clone returns a deep copy of e.
func (e Entry) Clone() Entry {
	c := e
	c.Resources = append([]string(nil), e.Resources...)
	if e.Resources == nil {
		c.Resources = nil
	}
	c.TxHash = cloneBytes(e.TxHash)
	c.PrevHash = cloneBytes(e.PrevHash)
	c.Hash = cloneBytes(e.Hash)
	return c
}

func cloneBytes(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}
