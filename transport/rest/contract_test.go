package rest_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
)

// contract holds the OpenAPI document, made strict for the test: every
// object schema that lists its properties allows no others, so a field the
// gateway sends but the document does not describe fails the test too.
type contract struct {
	t   *testing.T
	doc *openapi3.T
	url string
}

func loadContract(t *testing.T, baseURL string) *contract {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatalf("openapi.json does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI document: %v", err)
	}
	for _, ref := range doc.Components.Schemas {
		s := ref.Value
		if s.Type.Is(openapi3.TypeObject) && len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			s.AdditionalProperties = openapi3.AdditionalProperties{Has: openapi3.Ptr(false)}
		}
	}
	return &contract{t: t, doc: doc, url: baseURL}
}

// call sends a request to the gateway and validates the request (unless
// offContract: a deliberately invalid one) and the response against the
// operation at template (an OpenAPI path). The status must be one the
// operation lists explicitly, not only "default".
func (c *contract) call(method, template string, params map[string]string, query url.Values, body any, hdr http.Header, wantStatus int, offContract bool) []byte {
	t := c.t
	t.Helper()
	path := template
	for k, v := range params {
		path = strings.ReplaceAll(path, "{"+k+"}", url.PathEscape(v))
	}
	u := c.url + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	item := c.doc.Paths.Find(template)
	if item == nil {
		t.Fatalf("%s is not in openapi.json", template)
	}
	op := item.GetOperation(method)
	if op == nil {
		t.Fatalf("%s %s is not in openapi.json", method, template)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, QueryParams: query, Options: opts,
		Route: &routers.Route{Spec: c.doc, Path: template, PathItem: item, Method: method, Operation: op},
	}
	what := fmt.Sprintf("%s %s", method, u)
	if !offContract {
		check := req.Clone(context.Background())
		if raw != nil {
			check.Body = io.NopCloser(bytes.NewReader(raw))
		}
		in.Request = check
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s: the request breaks the contract: %v", what, err)
		}
		in.Request = req
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != wantStatus {
		t.Errorf("%s: status %d, want %d: %s", what, resp.StatusCode, wantStatus, got)
	}
	if op.Responses.Status(resp.StatusCode) == nil {
		t.Errorf("%s: status %d is not documented for the operation (only as default)", what, resp.StatusCode)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: opts}
	out.SetBodyBytes(got)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("%s: the %d response breaks the contract: %v\n%s", what, resp.StatusCode, err, got)
	}
	return got
}

// TestOpenAPIContract checks real responses of a running node (status,
// content type, body) against transport/rest/openapi.json: submit in sync
// and commit mode, single and batch, kv reads and history (hit and miss),
// tx lookups, and problem documents.
func TestOpenAPIContract(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	c := loadContract(t, n.URL())
	hexTx := func(ops ...types.Op) string { return hex.EncodeToString(signTx(t, n, n.Admin, ops...)) }
	var sr api.SubmitResponse

	// Submit: sync single, commit single, commit batch with a failure and a
	// duplicate, sync batch.
	c.call("POST", "/v1/txs", nil, nil, api.SubmitRequest{Tx: hexTx(put("anyone/x", "1"))}, nil, 200, false)
	body := c.call("POST", "/v1/txs", nil, nil, api.SubmitRequest{Tx: hexTx(put("k", "v1")), Mode: api.ModeCommit}, nil, 200, false)
	if json.Unmarshal(body, &sr) != nil || len(sr.Results) != 1 || sr.Results[0].Status != api.StatusCommitted {
		t.Fatalf("commit: %s", body)
	}
	committed := sr.Results[0]
	conflict := hexTx(check("k", types.Version{Height: 1}), put("k", "never"))
	dup := hexTx(put("k2", "v"), del("k2"))
	body = c.call("POST", "/v1/txs", nil, nil, api.SubmitRequest{Txs: []string{conflict, dup, dup}, Mode: api.ModeCommit}, nil, 200, false)
	if json.Unmarshal(body, &sr) != nil || sr.Failed != 1 || sr.Committed != 1 || sr.Rejected != 1 {
		t.Fatalf("batch: %s", body)
	}
	failed := sr.Results[0]
	c.call("POST", "/v1/txs", nil, nil, api.SubmitRequest{Txs: []string{hexTx(put("k3", "1")), hexTx(put("k4", "1"))}}, nil, 200, false)

	// Submit problems: REPLAY of the failed tx (409, with original), a
	// failed single tx (409 CONFLICT), bad JSON (400), bad encoding (400).
	var p api.Problem
	if b := c.call("POST", "/v1/txs", nil, nil, api.SubmitRequest{Tx: conflict, Mode: api.ModeCommit}, nil, 409, false); json.Unmarshal(b, &p) != nil || p.Original == nil {
		t.Errorf("REPLAY without the original result: %s", b)
	}
	c.call("POST", "/v1/txs", nil, nil, api.SubmitRequest{Tx: hexTx(check("k", types.Version{Height: 1}))}, nil, 200, false)
	c.call("POST", "/v1/txs", nil, nil, api.SubmitRequest{Tx: hexTx(check("k", types.Version{Height: 1})), Mode: api.ModeCommit}, nil, 409, false)
	c.call("POST", "/v1/txs", nil, nil, map[string]any{"txs": "not a list"}, nil, 400, true)
	c.call("POST", "/v1/txs", nil, nil, api.SubmitRequest{Tx: "!!"}, nil, 400, false)

	// Signed reads (the node checks them on an open chain too): kv hit,
	// miss, deleted, at a height; history hit, miss, bad limit; tx hit and
	// miss.
	signed := func(path string, data []byte, height int64) http.Header {
		sr, err := api.SignRead(n.Admin, n.ChainID, path, data, height, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return http.Header{"Authorization": {sr.String()}}
	}
	key := map[string]string{"key": "k"}
	c.call("GET", "/v1/kv/{key}", key, nil, nil, signed(types.QueryGet, []byte("k"), 0), 200, false)
	c.call("GET", "/v1/kv/{key}", key, url.Values{"height": {fmt.Sprint(committed.Height)}}, nil, signed(types.QueryGet, []byte("k"), committed.Height), 200, false)
	c.call("GET", "/v1/kv/{key}", map[string]string{"key": "nope"}, nil, nil, signed(types.QueryGet, []byte("nope"), 0), 404, false)
	c.call("GET", "/v1/kv/{key}", map[string]string{"key": "k"}, url.Values{"height": {fmt.Sprint(committed.Height - 1)}}, nil, signed(types.QueryGet, []byte("k"), committed.Height-1), 404, false)
	c.call("GET", "/v1/kv/{key}", map[string]string{"key": "k2"}, nil, nil, signed(types.QueryGet, []byte("k2"), 0), 404, false)
	hist := func(k string, limit uint32) http.Header {
		data, err := (&types.HistoryRequest{Key: k, Limit: limit}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return signed(types.QueryHistory, data, 0)
	}
	c.call("GET", "/v1/kv/{key}/history", key, nil, nil, hist("k", 0), 200, false)
	c.call("GET", "/v1/kv/{key}/history", map[string]string{"key": "k2"}, url.Values{"limit": {"10"}}, nil, hist("k2", 10), 200, false)
	c.call("GET", "/v1/kv/{key}/history", map[string]string{"key": "nope"}, nil, nil, hist("nope", 0), 404, false)
	c.call("GET", "/v1/kv/{key}/history", key, url.Values{"limit": {"5000"}}, nil, nil, 400, true)
	txHeader := func(h string) http.Header {
		b, _ := hex.DecodeString(h)
		return signed(types.QueryTx, b, 0)
	}
	c.call("GET", "/v1/txs/{hash}", map[string]string{"hash": committed.Hash}, nil, nil, txHeader(committed.Hash), 200, false)
	c.call("GET", "/v1/txs/{hash}", map[string]string{"hash": failed.Hash}, nil, nil, txHeader(failed.Hash), 200, false)
	missing := strings.Repeat("AB", 32)
	c.call("GET", "/v1/txs/{hash}", map[string]string{"hash": missing}, nil, nil, txHeader(missing), 404, false)
	c.call("GET", "/v1/txs/{hash}", map[string]string{"hash": "xyz"}, nil, nil, nil, 400, true)

	// Identities and governance state (public, committed state).
	c.call("GET", "/v1/identities/{address}", map[string]string{"address": types.Address(n.Admin.PubKey())}, nil, nil, nil, 200, false)
	c.call("GET", "/v1/identities/{address}", map[string]string{"address": "xyz"}, nil, nil, nil, 400, true)
	c.call("GET", "/v1/gov/orgs", nil, nil, nil, nil, 200, false)
	c.call("GET", "/v1/gov/validators", nil, nil, nil, nil, 200, false)

	// The rest: status, health, readiness.
	c.call("GET", "/v1/status", nil, nil, nil, nil, 200, false)
	c.call("GET", "/healthz", nil, nil, nil, nil, 200, false)
	c.call("GET", "/readyz", nil, nil, nil, nil, 200, false)

	// Access control: unsigned reads refused (403), a signed one served, a
	// replay whose original the gateway may not read (no "original").
	rn := testnode.Start(t, testnode.Options{RBAC: true})
	rc := loadContract(t, rn.URL())
	closed := hex.EncodeToString(signTx(t, rn, rn.Admin, put("k", "v")))
	rc.call("POST", "/v1/txs", nil, nil, api.SubmitRequest{Tx: closed, Mode: api.ModeCommit}, nil, 200, false)
	rc.call("POST", "/v1/txs", nil, nil, api.SubmitRequest{Tx: closed, Mode: api.ModeCommit}, nil, 409, false)
	rc.call("GET", "/v1/kv/{key}", key, nil, nil, nil, 403, false)
	rc.call("GET", "/v1/kv/{key}/history", key, nil, nil, nil, 403, false)
	rc.call("GET", "/v1/txs/{hash}", map[string]string{"hash": missing}, nil, nil, nil, 404, false)
}
