package api

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/dstt/dstt/types"
)

// Paths of the v1 API, relative to the gateway's base URL.
const (
	PathTxs        = "/v1/txs"            // POST: submit; GET /v1/txs/{hash}: a committed tx
	PathKV         = "/v1/kv/"            // GET /v1/kv/{key}, GET /v1/kv/{key}/history
	PathEvents     = "/v1/events"         // GET: Server-Sent Events of committed writes
	PathStatus     = "/v1/status"         // GET: chain id, heights
	PathIdentities = "/v1/identities/"    // GET /v1/identities/{address}: an identity and its key history (types.IdentityView)
	PathValidators = "/v1/gov/validators" // GET: the validator set (JSON []types.ValidatorView)
	PathOrgs       = "/v1/gov/orgs"       // GET: the member orgs and k (types.OrgsView)
	PathOpenAPI    = "/v1/openapi.json"   // GET: this API's OpenAPI 3 document
	PathHealthz    = "/healthz"
	PathReadyz     = "/readyz"
	PathMetrics    = "/metrics"
)

// Submit modes.
const (
	// ModeSync returns once each tx was admitted to (or refused by) the
	// mempool: CheckTx's answer.
	ModeSync = "sync"
	// ModeCommit returns once each admitted tx is in a committed block (or
	// the request's timeout passes): the tx's result in the block.
	ModeCommit = "commit"
)

// Tx encodings in a SubmitRequest.
const (
	EncodingBase64 = "base64" // standard or URL alphabet, padded or not
	EncodingHex    = "hex"
)

// SubmitRequest is the body of POST /v1/txs: one signed tx (Tx) or a batch
// (Txs), never both. Each is the encoded types.Tx envelope as hex or base64;
// with Encoding empty, a string of hex digits of even length is hex and
// anything else base64.
type SubmitRequest struct {
	Tx        string   `json:"tx,omitempty"`
	Txs       []string `json:"txs,omitempty"`
	Mode      string   `json:"mode,omitempty"`       // ModeSync (default) or ModeCommit
	Encoding  string   `json:"encoding,omitempty"`   // "", EncodingBase64 or EncodingHex
	TimeoutMS int64    `json:"timeout_ms,omitempty"` // commit mode: how long to wait; 0 = the gateway's default
}

// Tx statuses in a TxOutcome.
const (
	StatusCommitted = "committed" // in a block with code 0
	StatusFailed    = "failed"    // in a block with a non-zero code: nothing applied
	StatusAdmitted  = "admitted"  // in the mempool (sync mode)
	StatusRejected  = "rejected"  // refused before any block: CheckTx or the mempool said no
	StatusPending   = "pending"   // commit mode: admitted, but no block had it before the timeout
)

// TxOutcome is what happened to one submitted tx. Code and CodeName are the
// tx result code (types.Code); CodeName is always set ("OK" for an admitted
// or pending tx). A refusal by the mempool itself (full, not ready) has
// Code 0 and CodeName set to a Problem* code.
//
// Height and Index are the tx's place in a block: both are set (a
// committed or failed tx) or neither is (the JSON then omits both, as it
// omits Index whenever Height is 0).
type TxOutcome struct {
	Hash     string  `json:"hash"`
	Status   string  `json:"status"`
	Code     uint32  `json:"code"`
	CodeName string  `json:"code_name"`
	Log      string  `json:"log,omitempty"`
	Height   int64   `json:"height,omitempty"`
	Index    uint32  `json:"index"`
	Writes   []Write `json:"writes,omitempty"`
	// DuplicateOf, on a tx rejected with REPLAY, is the position of the
	// earlier tx in the same request with the same signed body (the same
	// replay identity): the request holds it twice, it is submitted once.
	DuplicateOf *int `json:"duplicate_of,omitempty"`
	// Original, on a tx rejected with REPLAY, is the committed result of
	// the tx that already took its replay identity, when the gateway could
	// read it: where it landed and how it ended (code 0, or e.g. CONFLICT:
	// it failed and nothing was applied). A new attempt needs a new tx.
	Original *TxResult `json:"original,omitempty"`
}

// MarshalJSON omits index when height is absent: no index without a block.
func (o TxOutcome) MarshalJSON() ([]byte, error) {
	type plain TxOutcome // no methods: no recursion
	out := struct {
		plain
		Index *uint32 `json:"index,omitempty"`
	}{plain: plain(o)}
	if o.Height != 0 {
		out.Index = &o.Index
	}
	return json.Marshal(out)
}

// OK reports whether the tx got where the mode asked: committed, or
// admitted in sync mode.
func (o TxOutcome) OK() bool { return o.Status == StatusCommitted || o.Status == StatusAdmitted }

// SubmitResponse answers POST /v1/txs: one outcome per submitted tx, in
// request order, and how many ended in each status.
type SubmitResponse struct {
	Results   []TxOutcome `json:"results"`
	Committed int         `json:"committed"`
	Failed    int         `json:"failed"`
	Admitted  int         `json:"admitted"`
	Rejected  int         `json:"rejected"`
	Pending   int         `json:"pending"`
}

// Count tallies the statuses of Results into the counters.
func (r *SubmitResponse) Count() {
	r.Committed, r.Failed, r.Admitted, r.Rejected, r.Pending = 0, 0, 0, 0, 0
	for _, o := range r.Results {
		switch o.Status {
		case StatusCommitted:
			r.Committed++
		case StatusFailed:
			r.Failed++
		case StatusAdmitted:
			r.Admitted++
		case StatusRejected:
			r.Rejected++
		case StatusPending:
			r.Pending++
		}
	}
}

// Write is one key a committed tx changed.
type Write struct {
	Key     string `json:"key"`
	Version string `json:"version"`
	Deleted bool   `json:"deleted,omitempty"`
}

// Writes converts the engine's writes.
func Writes(ws []types.Write) []Write {
	if len(ws) == 0 {
		return nil
	}
	out := make([]Write, len(ws))
	for i, w := range ws {
		out[i] = Write{Key: w.Key, Version: w.Version.Text(), Deleted: w.Deleted}
	}
	return out
}

// TypesWrites converts back; a malformed version is an error.
func TypesWrites(ws []Write) ([]types.Write, error) {
	out := make([]types.Write, len(ws))
	for i, w := range ws {
		v, err := types.ParseVersion(w.Version)
		if err != nil {
			return nil, err
		}
		out[i] = types.Write{Key: w.Key, Version: v, Deleted: w.Deleted}
	}
	return out, nil
}

// EncodeValue renders a value: as text when it is valid UTF-8, otherwise
// as standard base64.
func EncodeValue(b []byte) (text, b64 string) {
	if utf8.Valid(b) {
		return string(b), ""
	}
	return "", base64.StdEncoding.EncodeToString(b)
}

// DecodeValue is the inverse of EncodeValue.
func DecodeValue(text, b64 string) ([]byte, error) {
	if b64 == "" {
		return []byte(text), nil
	}
	if text != "" {
		return nil, fmt.Errorf("api: both value and value_base64 are set")
	}
	return base64.StdEncoding.DecodeString(b64)
}

// KV answers GET /v1/kv/{key}: the value as of Height.
type KV struct {
	Key         string `json:"key"`
	Value       string `json:"value,omitempty"`
	ValueBase64 string `json:"value_base64,omitempty"`
	Version     string `json:"version"`
	Height      int64  `json:"height,omitempty"` // the height the answer is for
	Deleted     bool   `json:"deleted,omitempty"`
}

// NewKV converts the engine's answer.
func NewKV(kv types.KV, height int64) KV {
	out := KV{Key: kv.Key, Version: kv.Version.Text(), Height: height, Deleted: kv.Deleted}
	if !kv.Deleted {
		out.Value, out.ValueBase64 = EncodeValue(kv.Value)
	}
	return out
}

// Types converts back to the engine's form.
func (k KV) Types() (types.KV, error) {
	v, err := types.ParseVersion(k.Version)
	if err != nil {
		return types.KV{}, err
	}
	val, err := DecodeValue(k.Value, k.ValueBase64)
	if err != nil {
		return types.KV{}, err
	}
	if k.Deleted {
		val = nil
	}
	return types.KV{Key: k.Key, Value: val, Version: v, Deleted: k.Deleted}, nil
}

// MaxHistoryLimit is the largest page GET /v1/kv/{key}/history serves
// (?limit=N); a larger limit is refused with BAD_QUERY.
const MaxHistoryLimit = 1000

// History answers GET /v1/kv/{key}/history: one page of versions, newest
// first. Next, when set, is the `before` of the next page.
type History struct {
	Key      string `json:"key"`
	Versions []KV   `json:"versions"`
	Next     string `json:"next,omitempty"`
}

// TxResult answers GET /v1/txs/{hash}: a committed tx's result.
type TxResult struct {
	Hash     string  `json:"hash"`
	Height   int64   `json:"height"`
	Index    uint32  `json:"index"`
	Code     uint32  `json:"code"`
	CodeName string  `json:"code_name"`
	Log      string  `json:"log,omitempty"`
	Signer   string  `json:"signer,omitempty"`
	Writes   []Write `json:"writes,omitempty"`
}

// NewTxResult converts the engine's record.
func NewTxResult(hash string, r types.TxResult) TxResult {
	return TxResult{
		Hash: hash, Height: int64(r.Height), Index: r.TxIndex, Code: r.Code,
		CodeName: types.Code(r.Code).Name(), Log: r.Log, Signer: r.Signer, Writes: Writes(r.Writes),
	}
}

// Status answers GET /v1/status.
type Status struct {
	ChainID         string `json:"chain_id"`
	LatestHeight    int64  `json:"latest_height"`
	LatestBlockTime string `json:"latest_block_time,omitempty"` // RFC 3339
	CatchingUp      bool   `json:"catching_up"`
	Peers           int    `json:"peers"`
	MempoolTxs      int    `json:"mempool_txs"`
}

// Ready answers GET /readyz (status 200 when Ready, else 503).
type Ready struct {
	Ready      bool     `json:"ready"`
	Height     int64    `json:"height"`
	CatchingUp bool     `json:"catching_up"`
	Peers      int      `json:"peers"`
	MinPeers   int      `json:"min_peers"`
	Reasons    []string `json:"reasons,omitempty"`
}
