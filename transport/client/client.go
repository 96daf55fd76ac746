package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

// Errors returned by Client methods (wrapped; test with errors.Is). Errors
// that come from a gateway problem document also wrap the *api.Problem
// (errors.As).
var (
	ErrUnreachable = errors.New("client: node unreachable")
	// ErrTLS: the TLS handshake with the node failed (its certificate,
	// the client's, or http against https). It wraps ErrUnreachable.
	ErrTLS           = fmt.Errorf("%w: TLS handshake failed", ErrUnreachable)
	ErrRejected      = errors.New("client: transaction rejected")
	ErrNotFound      = errors.New("client: not found")
	ErrQuery         = errors.New("client: query failed")
	ErrUnauthorized  = errors.New("client: unauthorized")
	ErrBusy          = errors.New("client: node busy or not ready; retry later")
	ErrCommitTimeout = errors.New("client: tx admitted but not committed in time")
	ErrUnsupported   = errors.New("client: not supported over this connection")
	ErrNoSigner      = errors.New("client: no signer (use WithSigner or pass signers)")
)

// MaxCommitWait is the longest a REST client asks the gateway to wait for
// a commit (the gateway's default --rest-max-commit-timeout). With a
// longer context deadline the gateway still answers "pending" after it:
// BroadcastCommit then returns ErrCommitTimeout with the tx's hash.
const MaxCommitWait = 2 * time.Minute

// DefaultValidFor is how many blocks past the latest height a submitted tx
// stays valid when the caller does not say.
const DefaultValidFor = 100

// TxError is a tx outcome with a non-zero code.
type TxError struct {
	Hash   string
	Height int64
	Code   types.Code
	Log    string
	// Stage is "check" (refused by the mempool) or "deliver" (in a block).
	Stage string
}

func (e *TxError) Error() string {
	if e.Stage == "deliver" {
		return fmt.Sprintf("tx %s failed in block %d: %s (code %d %s)", e.Hash, e.Height, e.Log, e.Code, e.Code.Name())
	}
	return fmt.Sprintf("tx %s refused: %s (code %d %s)", e.Hash, e.Log, e.Code, e.Code.Name())
}

func (e *TxError) Unwrap() error { return ErrRejected }

// Result is a committed (or, from BroadcastSync, admitted) tx.
type Result struct {
	Hash   string
	Height int64
	Index  uint32
	Code   types.Code
	Log    string
	Writes []types.Write
}

// Conn is one way of reaching a node: the contract a transport implements,
// as database/sql/driver is to database/sql. This package implements it
// for the REST gateway; package cometrpc implements it for CometBFT's RPC
// and registers the tcp:// scheme with RegisterDialer. A non-nil
// *api.SignedRead authenticates the read it comes with. A refused read
// wraps ErrNotFound, ErrUnauthorized or ErrQuery, chosen by the answer's
// code; an unanswered one wraps ErrUnreachable. Implementations are safe
// for concurrent use.
type Conn interface {
	ChainInfo(ctx context.Context) (ChainInfo, error)
	// Broadcast submits txs in order; commit waits for their blocks. It
	// returns one outcome per tx.
	Broadcast(ctx context.Context, txs [][]byte, commit bool) ([]api.TxOutcome, error)
	Get(ctx context.Context, key string, height int64, sr *api.SignedRead) (types.KV, int64, error)
	History(ctx context.Context, req types.HistoryRequest, sr *api.SignedRead) (types.History, error)
	Tx(ctx context.Context, hash []byte, sr *api.SignedRead) (types.TxResult, error)
	Raw(ctx context.Context, path string, data []byte, sr *api.SignedRead) ([]byte, error)
	// Subscribe streams committed writes under prefix after from (nil:
	// from the next block) into sink until ctx ends or the stream fails;
	// it calls sink.Ready once the node accepted the subscription. auth
	// signs the subscription when the transport authenticates it.
	Subscribe(ctx context.Context, prefix string, from *api.EventID, auth func() (*api.SignedRead, error), sink Sink) error
	Close() error
}

// Dialer opens a Conn to addr (the full address, scheme included).
type Dialer func(addr string) (Conn, error)

var (
	dialersMu sync.RWMutex
	dialers   = map[string]Dialer{}
)

// RegisterDialer makes Connect reach addresses of scheme ("tcp" for
// scheme://HOST:PORT) through dial. A transport with heavy dependencies
// registers itself from init, so a program links it only by importing it
// (package cometrpc for tcp://). It panics if scheme is taken or is the
// gateway's (http, https).
func RegisterDialer(scheme string, dial Dialer) {
	dialersMu.Lock()
	defer dialersMu.Unlock()
	if _, dup := dialers[scheme]; dup || dial == nil || scheme == "http" || scheme == "https" {
		panic("client: dialer for " + scheme + " registered twice, with no function, or over the gateway's scheme")
	}
	dialers[scheme] = dial
}

// NewWithConn returns a client over c; addr is what Addr reports.
func NewWithConn(c Conn, addr string, opts ...Option) *Client {
	return newClient(c, addr, opts)
}

// Client talks to one node. It is safe for concurrent use.
type Client struct {
	conn Conn
	addr string
	// keysMu guards reader and signers, which RotateKey moves to the
	// successor key.
	keysMu sync.RWMutex
	// reader, when set, signs every query (SetReader).
	reader  security.Signer
	signers []security.Signer
	txn     TxnOptions
	mu      sync.Mutex
	chainID string // cached for signing queries
	now     func() time.Time
	// contention is the adaptive part of Txn's backoff (see txn.go).
	contention contention
	readClock  readClock
}

// readClock hands out signed-read timestamps. A node refuses a signed
// query it has seen, and two identical reads signed in the same
// millisecond are byte-identical (ed25519 is deterministic), so repeats of
// one query get distinct, increasing milliseconds.
type readClock struct {
	mu   sync.Mutex
	last map[[32]byte]int64
}

func (rc *readClock) next(pub []byte, path string, data []byte, height int64, now time.Time) time.Time {
	h := sha256.New()
	h.Write(pub)
	h.Write([]byte(path))
	h.Write([]byte{0})
	h.Write(data)
	var hb [8]byte
	binary.BigEndian.PutUint64(hb[:], uint64(height))
	h.Write(hb[:])
	var k [32]byte
	h.Sum(k[:0])
	ms := now.UnixMilli()
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.last == nil || len(rc.last) > 10_000 {
		rc.last = make(map[[32]byte]int64)
	}
	if prev, ok := rc.last[k]; ok && ms <= prev {
		ms = prev + 1
	}
	rc.last[k] = ms
	return time.UnixMilli(ms)
}

// Option configures a Client.
type Option func(*options)

type options struct {
	httpClient *http.Client
	tlsConfig  *tls.Config
	signers    []security.Signer
	reader     security.Signer
	txn        *TxnOptions
}

// WithHTTPClient makes a REST client use hc (timeouts, proxies, transport).
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithTLSConfig sets the TLS config of a REST client's default transport
// (server CA, client certificate).
func WithTLSConfig(tc *tls.Config) Option { return func(o *options) { o.tlsConfig = tc } }

// WithSigner sets the signers Txn and SubmitOps use (the first is the
// actor); it also signs reads, unless WithReader says otherwise.
func WithSigner(s ...security.Signer) Option { return func(o *options) { o.signers = s } }

// WithReader signs every query with s (see SetReader).
func WithReader(s security.Signer) Option { return func(o *options) { o.reader = s } }

// WithTxnOptions sets the defaults of Txn.
func WithTxnOptions(t TxnOptions) Option { return func(o *options) { o.txn = &t } }

func newClient(c Conn, addr string, opts []Option) *Client {
	var o options
	for _, f := range opts {
		f(&o)
	}
	cl := &Client{conn: c, addr: addr, now: time.Now, signers: o.signers, reader: o.reader, txn: DefaultTxnOptions()}
	if cl.reader == nil && len(o.signers) > 0 {
		cl.reader = o.signers[0]
	}
	if o.txn != nil {
		cl.txn = *o.txn
	}
	return cl
}

// DefaultAddress is the REST gateway `dstt start` serves by default: where
// Connect("") goes.
const DefaultAddress = "http://127.0.0.1:8080"

// Connect dials a node by address, over its REST gateway unless the
// address asks for another transport: "" is DefaultAddress,
// http(s)://HOST:PORT and a bare HOST:PORT the REST gateway, SCHEME://...
// the transport registered for SCHEME (tcp:// is CometBFT's RPC once the
// program imports package cometrpc: an operator port, unauthenticated, and
// on a chain with access control it listens on the node's loopback only).
func Connect(addr string, opts ...Option) (*Client, error) {
	switch {
	case addr == "":
		return NewREST(DefaultAddress, opts...)
	case strings.HasPrefix(addr, "http://"), strings.HasPrefix(addr, "https://"):
		return NewREST(addr, opts...)
	case !strings.Contains(addr, "://"):
		return NewREST("http://"+addr, opts...)
	}
	scheme, _, _ := strings.Cut(addr, "://")
	dialersMu.RLock()
	dial, ok := dialers[scheme]
	dialersMu.RUnlock()
	if !ok {
		hint := ""
		if scheme == "tcp" {
			hint = "; tcp:// is CometBFT's RPC: import github.com/dstt/dstt/transport/client/cometrpc"
		}
		return nil, fmt.Errorf("%w: address %q: want http(s)://HOST:PORT (REST gateway)%s", ErrUnreachable, addr, hint)
	}
	c, err := dial(addr)
	if err != nil {
		return nil, err
	}
	return newClient(c, addr, opts), nil
}

// NewREST connects to a node's REST gateway, e.g. http://127.0.0.1:8080.
func NewREST(baseURL string, opts ...Option) (*Client, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	rc, err := newRESTConn(baseURL, o.httpClient, o.tlsConfig)
	if err != nil {
		return nil, err
	}
	return newClient(rc, baseURL, opts), nil
}

// SetReader makes the client sign its queries with s, so it can read keys
// that only some signers may read.
func (c *Client) SetReader(s security.Signer) {
	c.keysMu.Lock()
	defer c.keysMu.Unlock()
	c.reader = s
}

// readerKey is the key that signs queries (nil: none).
func (c *Client) readerKey() security.Signer {
	c.keysMu.RLock()
	defer c.keysMu.RUnlock()
	return c.reader
}

// signerKeys are the client's signers (WithSigner).
func (c *Client) signerKeys() []security.Signer {
	c.keysMu.RLock()
	defer c.keysMu.RUnlock()
	return c.signers
}

// replaceKey makes next sign wherever old did (reader, signers): after a
// rotation the chain refuses old.
func (c *Client) replaceKey(old, next security.Signer) {
	c.keysMu.Lock()
	defer c.keysMu.Unlock()
	if c.reader != nil && bytes.Equal(c.reader.PubKey(), old.PubKey()) {
		c.reader = next
	}
	for i, s := range c.signers {
		if bytes.Equal(s.PubKey(), old.PubKey()) {
			c.signers = slices.Clone(c.signers)
			c.signers[i] = next
		}
	}
}

// Close releases the client's connections.
func (c *Client) Close() error { return c.conn.Close() }

// Addr is the address the client talks to.
func (c *Client) Addr() string { return c.addr }

// Unreachable is the error of a transport whose node at addr did not
// answer: it wraps ErrUnreachable, and ErrTLS when the TLS handshake is
// what failed (then it says what to check instead of "is it running").
func Unreachable(addr string, err error) error {
	if hint, ok := tlsFailure(err); ok {
		return fmt.Errorf("%w with %s: %v (%s)", ErrTLS, addr, err, hint)
	}
	return fmt.Errorf("%w at %s (is `dstt start` running there? set --node): %v", ErrUnreachable, addr, err)
}

// ChainInfo is what a client needs to build a tx.
type ChainInfo struct {
	ChainID      string
	LatestHeight int64
}

// ChainInfo asks the node for its chain id and latest height.
func (c *Client) ChainInfo(ctx context.Context) (ChainInfo, error) {
	info, err := c.conn.ChainInfo(ctx)
	if err == nil {
		c.mu.Lock()
		c.chainID = info.ChainID
		c.mu.Unlock()
	}
	return info, err
}

func (c *Client) cachedChainID(ctx context.Context) (string, error) {
	c.mu.Lock()
	id := c.chainID
	c.mu.Unlock()
	if id != "" {
		return id, nil
	}
	info, err := c.ChainInfo(ctx)
	return info.ChainID, err
}

// Prepare fills in a body's chain id, and its nonce and valid_until_height
// when they are zero.
func (c *Client) Prepare(ctx context.Context, body *types.TxBody) error {
	info, err := c.ChainInfo(ctx)
	if err != nil {
		return err
	}
	body.ChainId = info.ChainID
	if body.Nonce == 0 {
		body.Nonce = RandomNonce()
	}
	if body.ValidUntilHeight == 0 {
		body.ValidUntilHeight = uint64(info.LatestHeight) + DefaultValidFor
	}
	return nil
}

// RandomNonce returns a random non-zero nonce.
func RandomNonce() uint64 {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("client: crypto/rand failed: %v", err)) // never on supported platforms
	}
	return binary.BigEndian.Uint64(b[:]) | 1
}

// Sign prepares body and signs it; it returns the tx bytes.
func (c *Client) Sign(ctx context.Context, body *types.TxBody, signers ...security.Signer) ([]byte, error) {
	if len(signers) == 0 {
		signers = c.signerKeys()
	}
	if len(signers) == 0 {
		return nil, ErrNoSigner
	}
	if err := c.Prepare(ctx, body); err != nil {
		return nil, err
	}
	return security.SignTx(body, signers...)
}

// Submit signs body and waits until the tx is committed in a block. A tx
// refused by CheckTx or failed in the block returns a *TxError. Without
// signers it uses the client's (WithSigner).
func (c *Client) Submit(ctx context.Context, body *types.TxBody, signers ...security.Signer) (Result, error) {
	tx, err := c.Sign(ctx, body, signers...)
	if err != nil {
		return Result{}, err
	}
	return c.BroadcastCommit(ctx, tx)
}

// SubmitOps builds a tx of ops, signs it with the client's signers and
// waits for its block.
func (c *Client) SubmitOps(ctx context.Context, ops ...types.Op) (Result, error) {
	return c.Submit(ctx, &types.TxBody{Ops: ops})
}

// BroadcastCommit submits signed tx bytes and waits for the block result.
func (c *Client) BroadcastCommit(ctx context.Context, tx []byte) (Result, error) {
	outs, err := c.conn.Broadcast(ctx, [][]byte{tx}, true)
	if err != nil {
		return Result{}, err
	}
	return OutcomeResult(outs[0])
}

// BroadcastSync submits signed tx bytes and returns once the mempool
// admitted (Result with the hash) or refused (*TxError) it.
func (c *Client) BroadcastSync(ctx context.Context, tx []byte) (Result, error) {
	outs, err := c.conn.Broadcast(ctx, [][]byte{tx}, false)
	if err != nil {
		return Result{}, err
	}
	return OutcomeResult(outs[0])
}

// BroadcastBatch submits signed txs in one request (over REST; one call
// per tx over RPC) and returns one outcome per tx, in order. commit waits
// for the blocks. An error means the request as a whole failed.
func (c *Client) BroadcastBatch(ctx context.Context, txs [][]byte, commit bool) ([]api.TxOutcome, error) {
	return c.conn.Broadcast(ctx, txs, commit)
}

// OutcomeResult converts one tx outcome into a Result, or the error that
// says why it did not get where it was sent: *TxError (refused by CheckTx,
// or failed in a block with Result filled in), ErrBusy (mempool full, node
// not ready), ErrCommitTimeout.
func OutcomeResult(o api.TxOutcome) (Result, error) {
	res := Result{Hash: o.Hash, Height: o.Height, Index: o.Index, Code: types.Code(o.Code), Log: o.Log}
	if len(o.Writes) > 0 {
		ws, err := api.TypesWrites(o.Writes)
		if err != nil {
			return res, fmt.Errorf("%w: %v", ErrQuery, err)
		}
		res.Writes = ws
	}
	switch o.Status {
	case api.StatusCommitted, api.StatusAdmitted:
		return res, nil
	case api.StatusFailed:
		return res, &TxError{Hash: o.Hash, Height: o.Height, Code: types.Code(o.Code), Log: o.Log, Stage: "deliver"}
	case api.StatusPending:
		return res, fmt.Errorf("%w: tx %s (%s)", ErrCommitTimeout, o.Hash, o.Log)
	case api.StatusRejected:
		if o.Code != 0 {
			return Result{}, &TxError{Hash: o.Hash, Height: o.Height, Code: types.Code(o.Code), Log: o.Log, Stage: "check"}
		}
		return Result{}, fmt.Errorf("%w: tx %s: %s: %s", ErrBusy, o.Hash, o.CodeName, o.Log)
	}
	return res, fmt.Errorf("%w: tx %s: unknown status %q", ErrQuery, o.Hash, o.Status)
}

// signRead signs the inner query with the client's reader; nil without one.
func (c *Client) signRead(ctx context.Context, reader security.Signer, path string, data []byte, height int64) (*api.SignedRead, error) {
	if reader == nil {
		return nil, nil
	}
	chainID, err := c.cachedChainID(ctx)
	if err != nil {
		return nil, err
	}
	sr, err := api.SignRead(reader, chainID, path, data, height, c.readClock.next(reader.PubKey(), path, data, height, c.now()))
	if err != nil {
		return nil, err
	}
	return &sr, nil
}

// Get reads key at height (0 = latest). It returns the value's entry and
// the height the answer is for.
func (c *Client) Get(ctx context.Context, key string, height int64) (types.KV, int64, error) {
	return c.getAs(ctx, c.readerKey(), key, height)
}

func (c *Client) getAs(ctx context.Context, reader security.Signer, key string, height int64) (types.KV, int64, error) {
	sr, err := c.signRead(ctx, reader, types.QueryGet, []byte(key), height)
	if err != nil {
		return types.KV{}, 0, err
	}
	return c.conn.Get(ctx, key, height, sr)
}

// History returns one page of key's versions, newest first.
func (c *Client) History(ctx context.Context, req types.HistoryRequest) (types.History, error) {
	data, err := req.Marshal()
	if err != nil {
		return types.History{}, err
	}
	sr, err := c.signRead(ctx, c.readerKey(), types.QueryHistory, data, 0)
	if err != nil {
		return types.History{}, err
	}
	return c.conn.History(ctx, req, sr)
}

// Raw runs any query path and returns the answer's bytes (over the REST
// gateway: the governance views and the gtx paths only; the gateway serves
// named routes).
func (c *Client) Raw(ctx context.Context, path string, data []byte) ([]byte, error) {
	sr, err := c.signRead(ctx, c.readerKey(), path, data, 0)
	if err != nil {
		return nil, err
	}
	return c.conn.Raw(ctx, path, data, sr)
}

// Tx returns the committed result of a tx by its hash.
func (c *Client) Tx(ctx context.Context, hash []byte) (types.TxResult, error) {
	sr, err := c.signRead(ctx, c.readerKey(), types.QueryTx, hash, 0)
	if err != nil {
		return types.TxResult{}, err
	}
	return c.conn.Tx(ctx, hash, sr)
}
