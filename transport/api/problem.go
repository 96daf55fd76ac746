package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/dstt/dstt/types"
)

// ContentTypeProblem is the media type of a Problem.
const ContentTypeProblem = "application/problem+json"

// ProblemTypePrefix starts every Problem's Type: the URN names the code.
const ProblemTypePrefix = "urn:dstt:problem:"

// Problem is an error document (RFC 9457). Type, Title, Status and Detail
// are the standard members; Code is dstt's stable machine-readable code;
// the rest are extensions set when they apply.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	Code     string `json:"code"`

	// TxHash, TxCode, Height: the tx a refusal or failure is about.
	TxHash string  `json:"tx_hash,omitempty"`
	TxCode *uint32 `json:"tx_code,omitempty"`
	Height int64   `json:"height,omitempty"`
	// TxIndex is the position, in a submitted batch, of the offending tx.
	TxIndex *int `json:"tx_index,omitempty"`
	// RetryAfterSeconds accompanies RATE_LIMITED, MEMPOOL_FULL, NOT_READY.
	RetryAfterSeconds int `json:"retry_after_seconds,omitempty"`
	// LastEventID: for EVENTS_LAGGED, where to resume.
	LastEventID string `json:"last_event_id,omitempty"`
	// Key: the key a read is about (NOT_FOUND of GET /v1/kv/{key} and its
	// history).
	Key string `json:"key,omitempty"`
	// DeletedVersion: for NOT_FOUND of a key whose newest version (at the
	// height read) is a delete, the version (HEIGHT.INDEX) of that delete.
	// A check of the key still compares against version "0".
	DeletedVersion string `json:"deleted_version,omitempty"`
	// DuplicateOf: for REPLAY of a tx the same request holds twice, the
	// position of its first copy.
	DuplicateOf *int `json:"duplicate_of,omitempty"`
	// Original: for REPLAY, the committed result of the tx that already
	// took this tx's replay identity (when the gateway could read it).
	Original *TxResult `json:"original,omitempty"`
}

func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%d %s)", p.Title, p.Status, p.Code)
	if p.Detail != "" {
		b.WriteString(": ")
		b.WriteString(p.Detail)
	}
	return b.String()
}

// Gateway problem codes. Numbers are HTTP statuses; names never change
// meaning. Tx refusals and failures use the tx result code names instead
// (types.Code.Name), see TxProblem.
const (
	ProblemBadJSON          = "BAD_JSON"               // 400: the body is not the JSON document the route expects
	ProblemBadRequest       = "BAD_REQUEST"            // 400: a parameter or field is invalid
	ProblemBadTxEncoding    = "BAD_TX_ENCODING"        // 400: a tx is not valid hex or base64
	ProblemTooManyTxs       = "TOO_MANY_TXS"           // 413: more txs in one request than allowed
	ProblemBodyTooLarge     = "BODY_TOO_LARGE"         // 413: the body exceeds the size limit
	ProblemUnsupportedMedia = "UNSUPPORTED_MEDIA_TYPE" // 415: not application/json
	ProblemNoRoute          = "NO_ROUTE"               // 404: no such path
	ProblemMethod           = "METHOD_NOT_ALLOWED"     // 405
	ProblemForbidden        = "FORBIDDEN"              // 403: the read authorizer said no
	ProblemCertRequired     = "CLIENT_CERT_REQUIRED"   // 401: the gateway requires a TLS client certificate (every route but /healthz and /readyz)
	ProblemRateLimited      = "RATE_LIMITED"           // 429: this client's request rate is over its limit
	ProblemMempoolFull      = "MEMPOOL_FULL"           // 503: retry later
	ProblemNotReady         = "NOT_READY"              // 503: the node is catching up or stopping
	ProblemCommitTimeout    = "COMMIT_TIMEOUT"         // 504: admitted, not committed within the timeout; poll GET /v1/txs/{hash}
	ProblemEventsLagged     = "EVENTS_LAGGED"          // (SSE error event) the subscriber fell behind; resume with Last-Event-ID
	ProblemTooManyStreams   = "TOO_MANY_STREAMS"       // 503: the event stream limit is reached
	ProblemInternal         = "INTERNAL"               // 500
)

// problemInfo: status and title of each gateway code.
var problemInfo = map[string]struct {
	status int
	title  string
}{
	ProblemBadJSON:          {http.StatusBadRequest, "malformed JSON body"},
	ProblemBadRequest:       {http.StatusBadRequest, "invalid request"},
	ProblemBadTxEncoding:    {http.StatusBadRequest, "a transaction is not valid hex or base64"},
	ProblemTooManyTxs:       {http.StatusRequestEntityTooLarge, "too many transactions in one request"},
	ProblemBodyTooLarge:     {http.StatusRequestEntityTooLarge, "request body too large"},
	ProblemUnsupportedMedia: {http.StatusUnsupportedMediaType, "unsupported content type"},
	ProblemNoRoute:          {http.StatusNotFound, "no such endpoint"},
	ProblemMethod:           {http.StatusMethodNotAllowed, "method not allowed"},
	ProblemForbidden:        {http.StatusForbidden, "forbidden"},
	ProblemCertRequired:     {http.StatusUnauthorized, "client certificate required"},
	ProblemRateLimited:      {http.StatusTooManyRequests, "rate limit exceeded"},
	ProblemMempoolFull:      {http.StatusServiceUnavailable, "mempool is full"},
	ProblemNotReady:         {http.StatusServiceUnavailable, "node not ready"},
	ProblemCommitTimeout:    {http.StatusGatewayTimeout, "transaction not committed in time"},
	ProblemEventsLagged:     {http.StatusServiceUnavailable, "event subscriber fell behind"},
	ProblemTooManyStreams:   {http.StatusServiceUnavailable, "too many event streams"},
	ProblemInternal:         {http.StatusInternalServerError, "internal error"},
}

// ProblemCodes lists the gateway's own codes, sorted.
func ProblemCodes() []string {
	out := make([]string, 0, len(problemInfo))
	for c := range problemInfo {
		out = append(out, c)
	}
	slices.Sort(out)
	return out
}

// NewProblem builds a Problem for a gateway code; detail says what to do.
func NewProblem(code, detail string) *Problem {
	info, ok := problemInfo[code]
	if !ok {
		info = problemInfo[ProblemInternal]
	}
	return &Problem{Type: ProblemTypePrefix + code, Title: info.title, Status: info.status, Detail: detail, Code: code}
}

// txStatus is the HTTP status of a refused or failed tx, by result code.
func txStatus(c types.Code) int {
	switch c {
	case types.CodeConflict, types.CodeReplay:
		return http.StatusConflict
	case types.CodeUnauthorized:
		return http.StatusForbidden
	case types.CodeInternal:
		return http.StatusInternalServerError
	case types.CodeNotFound:
		return http.StatusNotFound
	case types.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	default:
		return http.StatusUnprocessableEntity
	}
}

// TxProblem is the Problem for a tx refused (CheckTx) or failed (in a block)
// with result code c: Code is c's name, TxCode its number.
func TxProblem(c types.Code, hash string, height int64, log string) *Problem {
	n := uint32(c)
	return &Problem{
		Type: ProblemTypePrefix + c.Name(), Title: c.Message(), Status: txStatus(c),
		Detail: log, Code: c.Name(), TxHash: hash, TxCode: &n, Height: height,
	}
}

// QueryProblem is the Problem for a failed query with result code c.
func QueryProblem(c types.Code, log string) *Problem {
	var st int
	switch c {
	case types.CodeNotFound:
		st = http.StatusNotFound
	case types.CodeBadQuery:
		st = http.StatusBadRequest
	case types.CodeUnauthorized:
		st = http.StatusForbidden
	case types.CodePruned:
		st = http.StatusGone
	default:
		st = http.StatusInternalServerError
	}
	return &Problem{Type: ProblemTypePrefix + c.Name(), Title: c.Message(), Status: st, Detail: log, Code: c.Name()}
}
