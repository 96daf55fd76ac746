package api

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/types"
)

// AuthScheme is the HTTP Authorization scheme of a signed read:
//
//	Authorization: Dstt-Query pubkey=<base64>, time=<unix ms>, nonce=<base64>, sig=<base64>
//
// The nonce is 16 random bytes. The signature is the reader's ed25519
// signature over types.QuerySignBytes(chain id, path, data, height, time,
// nonce) for the ABCI
// query the request stands for (QueryFor says which); the gateway rebuilds
// that query from the request, wraps it in a types.SignedQuery and the
// node checks it (signature, clock skew, single use) and the reader's
// read permission. A signed read header is good for one request.
const AuthScheme = "Dstt-Query"

// SignedRead is a parsed Dstt-Query Authorization header.
type SignedRead struct {
	PubKey     []byte
	TimeUnixMs int64
	Nonce      []byte
	Signature  []byte
}

// ErrBadAuthorization is returned by ParseAuthorization.
var ErrBadAuthorization = errors.New("api: bad Authorization header (want: " + AuthScheme + " pubkey=<base64>, time=<unix ms>, nonce=<base64>, sig=<base64>)")

// ParseAuthorization parses a Dstt-Query Authorization header value.
func ParseAuthorization(h string) (SignedRead, error) {
	var sr SignedRead
	scheme, params, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, AuthScheme) {
		return sr, fmt.Errorf("%w: scheme %q", ErrBadAuthorization, scheme)
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(params, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok || seen[k] {
			return sr, fmt.Errorf("%w: parameter %q", ErrBadAuthorization, kv)
		}
		seen[k] = true
		var err error
		switch k {
		case "pubkey":
			sr.PubKey, err = base64.StdEncoding.DecodeString(v)
		case "time":
			sr.TimeUnixMs, err = strconv.ParseInt(v, 10, 64)
		case "nonce":
			sr.Nonce, err = base64.StdEncoding.DecodeString(v)
		case "sig":
			sr.Signature, err = base64.StdEncoding.DecodeString(v)
		default:
			err = errors.New("unknown parameter")
		}
		if err != nil {
			return sr, fmt.Errorf("%w: %s: %v", ErrBadAuthorization, k, err)
		}
	}
	if len(sr.PubKey) != security.PubKeySize || len(sr.Signature) != security.SignatureSize || !seen["time"] || len(sr.Nonce) != types.QueryNonceSize {
		return sr, fmt.Errorf("%w: want a 32-byte pubkey, a time, a 16-byte nonce and a 64-byte sig", ErrBadAuthorization)
	}
	return sr, nil
}

// String renders the header value.
func (sr SignedRead) String() string {
	return fmt.Sprintf("%s pubkey=%s, time=%d, nonce=%s, sig=%s", AuthScheme,
		base64.StdEncoding.EncodeToString(sr.PubKey), sr.TimeUnixMs,
		base64.StdEncoding.EncodeToString(sr.Nonce), base64.StdEncoding.EncodeToString(sr.Signature))
}

// Query is the SignedQuery the header authenticates for the inner query.
func (sr SignedRead) Query(path string, data []byte, height int64) types.SignedQuery {
	return types.SignedQuery{Path: path, Data: data, Height: uint64(height), TimeUnixMs: sr.TimeUnixMs, PubKey: sr.PubKey, Signature: sr.Signature, Nonce: sr.Nonce}
}

// SignRead signs the inner query with s at time now, with a fresh random
// nonce.
func SignRead(s security.Signer, chainID, path string, data []byte, height int64, now time.Time) (SignedRead, error) {
	ms := now.UnixMilli()
	nonce := make([]byte, types.QueryNonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return SignedRead{}, fmt.Errorf("api: sign read: nonce: %w", err)
	}
	sig, err := s.Sign(types.QuerySignBytes(chainID, path, data, uint64(height), ms, nonce))
	if err != nil {
		return SignedRead{}, fmt.Errorf("api: sign read: %w", err)
	}
	return SignedRead{PubKey: s.PubKey(), TimeUnixMs: ms, Nonce: nonce, Signature: sig}, nil
}

// Inner queries that REST reads stand for, for signing:
//
//	GET /v1/kv/{key}?height=H    types.QueryGet, key, H
//	GET /v1/kv/{key}/history     types.QueryHistory, encoded types.HistoryRequest, 0
//	GET /v1/txs/{hash}           types.QueryTx, the 32 hash bytes, 0
//	GET /v1/events?prefix=P      EventsQuery(reader address, P), 0

// EventsQuery is the inner query a signed event subscription stands for:
// an types.QueryCheck asking whether the reader may read the prefix (as a
// key). It authenticates the reader; each event is then checked against
// the reader's read permission on its own key.
func EventsQuery(reader, prefix string) (string, []byte) {
	data, _ := json.Marshal(types.CheckRequest{Subject: reader, Action: "read", Key: prefix})
	return types.QueryCheck, data
}
