package rest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/transport/api"
)

// FuzzDecodeSubmitRequest: the gateway's JSON decoding never panics, every
// refusal is a well-formed problem, and what it accepts re-encodes to a
// request that decodes to the same txs.
func FuzzDecodeSubmitRequest(f *testing.F) {
	for _, s := range []string{
		`{"tx": "0a0b"}`, `{"txs": ["AAEC", "0a0b"], "mode": "commit", "timeout_ms": 5}`,
		`{"txs": ["AAEC"], "encoding": "hex"}`, `{"tx": "_-8"}`, `{"txs": []}`, `{"tx": ""}`,
		`{"txs": ["00"], "mode": "sync"} x`, `null`, `[]`, `{"tx": 1}`, `{"txs": [null]}`,
		`{"tx": "0a0b", "txs": ["0a"]}`, `{"timeout_ms": -1, "tx": "00"}`, `{"tx": "00", "mode": "commit", "timeout_ms": 999999999999}`,
		"{\"tx\": \"\\u0000\"}", `{"tx": "zz=="}`, `{"tx": "AA==", "encoding": "base32"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, p := decodeSubmitRequest(body, 8, time.Minute)
		if p != nil {
			if p.Code == "" || p.Status < 400 || p.Status > 599 || p.Title == "" || p.Detail == "" || !strings.HasPrefix(p.Type, api.ProblemTypePrefix) {
				t.Fatalf("malformed problem %+v for %q", p, body)
			}
			if _, err := json.Marshal(p); err != nil {
				t.Fatal(err)
			}
			return
		}
		if len(req.txs) == 0 || len(req.txs) > 8 || (req.single && len(req.txs) != 1) || req.timeout < 0 || req.timeout > time.Minute {
			t.Fatalf("accepted an invalid request %q: %+v", body, req)
		}
		again := api.SubmitRequest{Encoding: api.EncodingHex, Mode: api.ModeSync}
		if req.commit {
			again.Mode, again.TimeoutMS = api.ModeCommit, req.timeout.Milliseconds()
		}
		for _, tx := range req.txs {
			if len(tx) == 0 {
				t.Fatalf("accepted an empty tx from %q", body)
			}
			again.Txs = append(again.Txs, strings.ToUpper(hexString(tx)))
		}
		b, _ := json.Marshal(again)
		req2, p := decodeSubmitRequest(b, 8, time.Minute)
		if p != nil || !slices.EqualFunc(req.txs, req2.txs, func(a, b []byte) bool { return string(a) == string(b) }) || req2.commit != req.commit || req2.timeout != req.timeout {
			t.Fatalf("round trip of %q: %+v %v", body, req2, p)
		}
	})
}

func hexString(b []byte) string { return hexUpper(b) }

func TestDecodeTxStringAuto(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"0a0B", "\x0a\x0b"},             // all hex digits, even length: hex
		{"AAEC", "\xaa\xec"},             // so is this (use "encoding": "base64" to say otherwise)
		{"AAE=", "\x00\x01"},             // padded base64
		{"_-8", "\xff\xef"},              // URL base64 without padding
		{" 0a0b\n", "\x0a\x0b"},          // surrounding space ignored
		{"AAECAw==", "\x00\x01\x02\x03"}, // standard base64
	} {
		got, err := decodeTxString(c.in, "")
		if err != nil || string(got) != c.want {
			t.Errorf("decodeTxString(%q) = %x, %v; want %x", c.in, got, err, c.want)
		}
	}
	if got, err := decodeTxString("AAEC", api.EncodingBase64); err != nil || string(got) != "\x00\x01\x02" {
		t.Errorf("explicit base64: %x %v", got, err)
	}
	if _, err := decodeTxString("AAE", api.EncodingHex); err == nil {
		t.Error("odd-length hex accepted")
	}
}

// The OpenAPI document in the repo is the one served, it is valid JSON,
// documents exactly the router's endpoints, and lists every problem code.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
		Comps   struct {
			Schemas struct {
				Problem struct {
					Properties struct {
						Code struct {
							Enum []string `json:"enum"`
						} `json:"code"`
					} `json:"properties"`
				} `json:"Problem"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method := range ops {
			documented[strings.ToUpper(method)+" "+path] = true
		}
	}
	for _, r := range routes {
		k := r.method + " " + r.path
		if !documented[k] {
			t.Errorf("%s is served but not documented", k)
		}
		delete(documented, k)
	}
	for k := range documented {
		t.Errorf("%s is documented but not served", k)
	}
	enum := doc.Comps.Schemas.Problem.Properties.Code.Enum
	for _, c := range api.ProblemCodes() {
		if !slices.Contains(enum, c) {
			t.Errorf("problem code %s missing from the OpenAPI Problem schema", c)
		}
	}
	// Every documented path resolves to its route.
	for _, r := range routes {
		p := strings.NewReplacer("{hash}", strings.Repeat("A", 64), "{key}", "some%2Fkey").Replace(r.path)
		name, _, err := match(p)
		if err != nil || name != r.name {
			t.Errorf("%s matches %q (%v), want %q", p, name, err, r.name)
		}
	}
	if got := routeMethods[routeSubmit]; got != http.MethodPost {
		t.Errorf("submit method %s", got)
	}
}

func TestMatchKeys(t *testing.T) {
	for _, c := range []struct{ path, name, param string }{
		{"/v1/kv/a", routeKV, "a"},
		{"/v1/kv/a/b", routeKV, "a/b"},
		{"/v1/kv/a%2Fb", routeKV, "a/b"},
		{"/v1/kv/a%2Fhistory", routeKV, "a/history"},
		{"/v1/kv/a/history", routeHistory, "a"},
		{"/v1/kv/a%2F..%2Fb/history", routeHistory, "a/../b"},
		{"/v1/kv/", routeNone, ""},
		{"/v1/kv/history", routeKV, "history"},
		{"/v1/txs/AB", routeTx, "AB"},
		{"/v1/txs/AB/c", routeNone, ""},
		{"/v1/txs", routeSubmit, ""},
	} {
		name, param, err := match(c.path)
		if err != nil || name != c.name || param != c.param {
			t.Errorf("match(%q) = %q %q %v; want %q %q", c.path, name, param, err, c.name, c.param)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.ListenAddress = ":8080"
	c.TLS.CertFile = "x.pem"
	c.TLS.ClientAuth = "maybe"
	c.MaxBatchTxs = 0
	c.MaxOpenConnections, c.MaxConnectionsPerIP = 5, 10
	c.ReadBodyTimeout = 0
	c.MetricsListenAddress = "26661"
	err := c.Validate()
	for _, want := range []string{`":8080"`, "set both or neither", `"maybe"`, "max batch txs 0",
		"per IP 10 is above max open connections 5", "read body timeout 0s", `metrics listen address "26661"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v; want it to mention %s", err, want)
		}
	}
	off := DefaultConfig()
	off.ListenAddress = "off"
	if !off.Disabled() || off.Validate() != nil {
		t.Error("off")
	}
}
