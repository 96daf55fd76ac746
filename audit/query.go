package audit

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cometbft/cometbft/libs/bytes"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// ABCI query paths the node serves for the consensus chain.
//
// QueryEntries: request data = EntriesRequest.Encode(); the query's height
// is ignored (entries never change once committed). Response value =
// EntriesResponse.Encode(): the committed entries with Seq >= From
// (From 0 = 1), ascending and gap-free, at most Limit (Limit 0 = DefaultPage;
// the server may cap it, e.g. at MaxPage), plus the latest committed head.
// From past the head gives no entries and code 0.
//
// QueryHead: request data empty; the query's height H (0 = latest
// committed). Response value = HeadResponse.Encode() for the state after
// block H: the state hash, the audit head, and their AppHash; the response's
// Height is H. A height not (or no longer) available gives a non-zero code.
const (
	QueryEntries = "/audit/entries"
	QueryHead    = "/audit/head"
)

// queryVersion is the first byte of every query request and response.
const queryVersion = 1

// EntriesRequest asks for a page of entries.
type EntriesRequest struct {
	From  uint64
	Limit uint32
}

// Encode: version byte (1), uvarint From, uvarint Limit.
func (r EntriesRequest) Encode() []byte {
	b := []byte{queryVersion}
	b = binary.AppendUvarint(b, r.From)
	return binary.AppendUvarint(b, uint64(r.Limit))
}

// DecodeEntriesRequest parses EntriesRequest.Encode's output. Empty data is
// the zero request (from 1, default page).
func DecodeEntriesRequest(data []byte) (EntriesRequest, error) {
	if len(data) == 0 {
		return EntriesRequest{}, nil
	}
	d := decoder{b: data}
	var r EntriesRequest
	if v := d.byte(); v != queryVersion && d.err == nil {
		return r, fmt.Errorf("%w: entries request version %d", ErrDecode, v)
	}
	r.From = d.uvarint()
	limit := d.uvarint()
	if limit > 1<<32-1 {
		d.fail("limit %d overflows uint32", limit)
	}
	r.Limit = uint32(limit)
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return r, d.err
}

// EntriesResponse is a page of entries and the chain's head when it was read.
type EntriesResponse struct {
	Head    ChainHead
	Entries []Entry
}

// entriesResponseVersion is EntriesResponse's version byte: 2 added each
// entry's commit time. DecodeEntriesResponse still reads version 1.
const entriesResponseVersion = 2

// Encode: version byte (2), uvarint Head.Seq, lp Head.Hash, uvarint number
// of entries, then each entry as lp(Entry.Encode()) followed by its
// CommitTime as 8-byte big-endian Unix nanoseconds (0 = not known yet).
func (r EntriesResponse) Encode() []byte {
	b := []byte{entriesResponseVersion}
	b = binary.AppendUvarint(b, r.Head.Seq)
	b = appendBytes(b, r.Head.Hash)
	b = binary.AppendUvarint(b, uint64(len(r.Entries)))
	for i := range r.Entries {
		b = appendBytes(b, r.Entries[i].Encode())
		b = binary.BigEndian.AppendUint64(b, uint64(unixNanos(r.Entries[i].CommitTime)))
	}
	return b
}

// unixNanos is t in Unix nanoseconds, 0 for the zero time.
func unixNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// DecodeEntriesResponse parses EntriesResponse.Encode's output (version 1,
// without commit times, or 2).
func DecodeEntriesResponse(data []byte) (EntriesResponse, error) {
	d := decoder{b: data}
	var r EntriesResponse
	v := d.byte()
	if v != queryVersion && v != entriesResponseVersion && d.err == nil {
		return r, fmt.Errorf("%w: entries response version %d", ErrDecode, v)
	}
	r.Head.Seq = d.uvarint()
	r.Head.Hash = d.bytes()
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) {
		d.fail("%d entries in %d bytes", n, len(d.b))
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		raw := d.raw()
		if d.err != nil {
			break
		}
		e, err := Decode(raw)
		if err != nil {
			return EntriesResponse{}, fmt.Errorf("entry %d of the page: %w", i, err)
		}
		if v == entriesResponseVersion {
			if nanos := int64(d.uint64()); nanos != 0 {
				e.CommitTime = time.Unix(0, nanos).UTC()
			}
		}
		r.Entries = append(r.Entries, e)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return EntriesResponse{}, d.err
	}
	return r, nil
}

// HeadResponse is what a verifier needs to recompute the app hash of the
// state after block Height: AppHash(StateHash, Head) must equal the app
// hash in the header of block Height+1.
type HeadResponse struct {
	Height    uint64
	StateHash []byte
	Head      ChainHead
}

// AppHash is AppHash(r.StateHash, r.Head).
func (r HeadResponse) AppHash() []byte { return AppHash(r.StateHash, r.Head) }

// Encode: version byte (1), uvarint Height, lp StateHash, uvarint Head.Seq,
// lp Head.Hash.
func (r HeadResponse) Encode() []byte {
	b := []byte{queryVersion}
	b = binary.AppendUvarint(b, r.Height)
	b = appendBytes(b, r.StateHash)
	b = binary.AppendUvarint(b, r.Head.Seq)
	return appendBytes(b, r.Head.Hash)
}

// DecodeHeadResponse parses HeadResponse.Encode's output.
func DecodeHeadResponse(data []byte) (HeadResponse, error) {
	d := decoder{b: data}
	var r HeadResponse
	if v := d.byte(); v != queryVersion && d.err == nil {
		return r, fmt.Errorf("%w: head response version %d", ErrDecode, v)
	}
	r.Height = d.uvarint()
	r.StateHash = d.bytes()
	r.Head.Seq = d.uvarint()
	r.Head.Hash = d.bytes()
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return r, d.err
}

// ABCIQuerier is the part of a CometBFT RPC client RPCSource needs;
// rpcclient.Client (HTTP or in-process) satisfies it.
type ABCIQuerier interface {
	ABCIQueryWithOptions(ctx context.Context, path string, data bytes.HexBytes, opts rpcclient.ABCIQueryOptions) (*ctypes.ResultABCIQuery, error)
}

// ErrQuery is returned when the node answers an audit query with a non-zero code.
var ErrQuery = errors.New("audit: node refused the query")

// RPCSource reads the consensus chain from a node with ABCI queries on
// QueryEntries and QueryHead, signed when SignWith gave it a key. Safe for
// concurrent use if the client and signer are.
type RPCSource struct {
	c       ABCIQuerier
	chainID string
	signer  security.Signer
	now     func() time.Time
	mu      sync.Mutex
	lastMs  int64
}

var _ Source = (*RPCSource)(nil)

// NewRPCSource reads through c, unsigned.
func NewRPCSource(c ABCIQuerier) *RPCSource { return &RPCSource{c: c, now: time.Now} }

// SignWith makes s sign every query for chainID with signer (a key with
// read permission on the audit log) and returns s.
func (s *RPCSource) SignWith(chainID string, signer security.Signer) *RPCSource {
	s.chainID, s.signer = chainID, signer
	return s
}

// wrap turns a query into a signed one. Timestamps are made strictly
// increasing so two identical queries never share a signature (the node
// refuses a replayed signature).
func (s *RPCSource) wrap(path string, data []byte, height int64) (string, []byte, error) {
	s.mu.Lock()
	ms := max(s.now().UnixMilli(), s.lastMs+1)
	s.lastMs = ms
	s.mu.Unlock()
	nonce := make([]byte, types.QueryNonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("audit: sign query: nonce: %w", err)
	}
	sq := types.SignedQuery{Path: path, Data: data, Height: uint64(height), TimeUnixMs: ms, PubKey: s.signer.PubKey(), Nonce: nonce}
	sig, err := s.signer.Sign(types.QuerySignBytes(s.chainID, path, data, uint64(height), ms, nonce))
	if err != nil {
		return "", nil, fmt.Errorf("audit: sign query: %w", err)
	}
	sq.Signature = sig
	b, err := sq.Marshal()
	if err != nil {
		return "", nil, err
	}
	return types.QuerySigned, b, nil
}

func (s *RPCSource) query(ctx context.Context, path string, data []byte, height int64) ([]byte, int64, error) {
	qpath, qdata := path, data
	if s.signer != nil {
		var err error
		if qpath, qdata, err = s.wrap(path, data, height); err != nil {
			return nil, 0, err
		}
	}
	res, err := s.c.ABCIQueryWithOptions(ctx, qpath, qdata, rpcclient.ABCIQueryOptions{Height: height})
	if err != nil {
		return nil, 0, fmt.Errorf("audit: query %s: %w", path, err)
	}
	if res.Response.Code != 0 {
		return nil, 0, fmt.Errorf("%w: %s: code %d (%s): %s", ErrQuery, path, res.Response.Code, types.Code(res.Response.Code).Name(), res.Response.Log)
	}
	return res.Response.Value, res.Response.Height, nil
}

// Page returns a page of entries and the head at the time of the query.
func (s *RPCSource) Page(ctx context.Context, fromSeq uint64, limit int) (EntriesResponse, error) {
	if limit < 0 {
		limit = 0
	}
	limit = min(limit, MaxPage)
	val, _, err := s.query(ctx, QueryEntries, EntriesRequest{From: fromSeq, Limit: uint32(limit)}.Encode(), 0)
	if err != nil {
		return EntriesResponse{}, err
	}
	r, err := DecodeEntriesResponse(val)
	if err != nil {
		return EntriesResponse{}, fmt.Errorf("audit: query %s: %w", QueryEntries, err)
	}
	return r, nil
}

// Entries implements Source.
func (s *RPCSource) Entries(ctx context.Context, fromSeq uint64, limit int) ([]Entry, error) {
	r, err := s.Page(ctx, fromSeq, limit)
	return r.Entries, err
}

// Head implements Source: the latest committed head.
func (s *RPCSource) Head(ctx context.Context) (ChainHead, error) {
	r, err := s.HeadAt(ctx, 0)
	return r.Head, err
}

// HeadAt returns the state hash and audit head after block height (0 =
// latest committed).
func (s *RPCSource) HeadAt(ctx context.Context, height int64) (HeadResponse, error) {
	val, _, err := s.query(ctx, QueryHead, nil, height)
	if err != nil {
		return HeadResponse{}, err
	}
	r, err := DecodeHeadResponse(val)
	if err != nil {
		return HeadResponse{}, fmt.Errorf("audit: query %s: %w", QueryHead, err)
	}
	if height != 0 && r.Height != uint64(height) {
		return HeadResponse{}, fmt.Errorf("%w: %s at height %d answered for height %d", ErrQuery, QueryHead, height, r.Height)
	}
	return r, nil
}
