package sink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/format"
	"github.com/dstt/dstt/audit/sink/hectest"
)

// The HTTP sinks are tested against strict httptest receivers: stand-ins
// for Splunk HEC and the Elasticsearch _bulk API (neither is installable
// here) that check the protocol as the real services document it.

func TestHTTPSinkHEC(t *testing.T) {
	recv := hectest.Start("s3cret", nil)
	defer recv.Close()
	recv.SetBusy(2)
	f, _ := format.New(format.HEC, testFormatOpts)
	sk, err := NewHTTPSink("hec", f, testFormatOpts, HTTPOptions{URL: recv.EventURL(), Mode: ModeHEC, Token: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(45)
	sh := NewShipper(src, sk, NewMemoryCursors(), fastOpts)
	stop := run(t, sh)
	waitCursor(t, sh, 45, 10*time.Second)
	stop()
	// A wrong token is a failure, not an acknowledgement.
	bad, _ := NewHTTPSink("hec", f, testFormatOpts, HTTPOptions{URL: recv.EventURL(), Mode: ModeHEC, Token: "wrong"})
	es, _ := audit.ReadAll(context.Background(), src, 1, 3)
	var he *HECError
	if err := bad.Send(context.Background(), es); !errors.As(err, &he) || he.Status != http.StatusForbidden || he.Code != 4 {
		t.Fatalf("wrong token: %v", err)
	}
	got := recv.Indexed()
	if len(got) != 45 {
		t.Fatalf("HEC indexed %d events", len(got))
	}
	for i, ev := range got {
		if ev.Seq != uint64(i+1) {
			t.Fatalf("event %d: seq %d", i, ev.Seq)
		}
	}
	if sh.Status().Failures != 2 {
		t.Fatalf("failures %d, want 2 (the 503s)", sh.Status().Failures)
	}
}

// bulkReceiver is a strict Elasticsearch _bulk stand-in: NDJSON pairs of
// {"create":{"_index","_id"}} and a document, "Authorization: ApiKey K",
// Content-Type application/x-ndjson; a document whose _id exists is a 409
// item. failItem makes one item fail with 429 once.
type bulkReceiver struct {
	mu       sync.Mutex
	docs     map[string]map[string]any
	order    []string
	failItem string
	failed   bool
}

func (b *bulkReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if r.URL.Path != "/_bulk" || r.Header.Get("Authorization") != "ApiKey k3y" || r.Header.Get("Content-Type") != "application/x-ndjson" {
		http.Error(w, `{"error":"bad request"}`, http.StatusBadRequest)
		return
	}
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	type item struct {
		Create struct {
			Index  string `json:"_index"`
			ID     string `json:"_id"`
			Status int    `json:"status"`
			Error  any    `json:"error,omitempty"`
		} `json:"create"`
	}
	var items []item
	errs := false
	for sc.Scan() {
		var action map[string]struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
			http.Error(w, `{"error":"Malformed action/metadata line"}`, http.StatusBadRequest)
			return
		}
		meta, ok := action["create"]
		if !ok || meta.ID == "" || !sc.Scan() {
			http.Error(w, `{"error":"expected create with _id and a document"}`, http.StatusBadRequest)
			return
		}
		var doc map[string]any
		if err := json.Unmarshal(sc.Bytes(), &doc); err != nil {
			http.Error(w, `{"error":"bad document"}`, http.StatusBadRequest)
			return
		}
		var it item
		it.Create.Index, it.Create.ID = meta.Index, meta.ID
		switch {
		case meta.ID == b.failItem && !b.failed:
			b.failed, errs = true, true
			it.Create.Status, it.Create.Error = 429, map[string]string{"type": "es_rejected_execution_exception"}
		case b.docs[meta.ID] != nil:
			errs = true
			it.Create.Status, it.Create.Error = 409, map[string]string{"type": "version_conflict_engine_exception"}
		default:
			b.docs[meta.ID] = doc
			b.order = append(b.order, meta.ID)
			it.Create.Status = 201
		}
		items = append(items, it)
	}
	json.NewEncoder(w).Encode(map[string]any{"took": 1, "errors": errs, "items": items})
}

func TestHTTPSinkBulkECS(t *testing.T) {
	recv := &bulkReceiver{docs: map[string]map[string]any{}, failItem: "consensus/dstt-test/9"}
	srv := httptest.NewServer(recv)
	defer srv.Close()
	f, _ := format.New(format.ECS, testFormatOpts)
	sk, err := NewHTTPSink("es", f, testFormatOpts, HTTPOptions{URL: srv.URL + "/_bulk", Mode: ModeBulk, Index: "dstt-audit", Token: "k3y"})
	if err != nil {
		t.Fatal(err)
	}
	sh := NewShipper(newSource(30), sk, NewMemoryCursors(), fastOpts)
	stop := run(t, sh)
	waitCursor(t, sh, 30, 10*time.Second)
	stop()
	recv.mu.Lock()
	defer recv.mu.Unlock()
	// The batch with seq 9 failed on one item and was re-sent whole: its
	// other documents came back as 409s and count as delivered.
	if len(recv.docs) != 30 || sh.Status().Failures != 1 {
		t.Fatalf("%d documents, %d failures", len(recv.docs), sh.Status().Failures)
	}
	doc := recv.docs["consensus/dstt-test/30"]
	if doc["event"].(map[string]any)["sequence"] != float64(30) {
		t.Fatalf("doc 30: %v", doc["event"])
	}
}

func TestFileSinkRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.jsonl")
	f, _ := format.New(format.JSON, testFormatOpts)
	sk, err := NewFileSink("file", f, FileOptions{Path: path, MaxBytes: 4000, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	src := newSource(60)
	sh := NewShipper(src, sk, NewMemoryCursors(), ShipperOptions{BatchSize: 4, PollInterval: time.Millisecond})
	stop := run(t, sh)
	waitCursor(t, sh, 60, 10*time.Second)
	stop()
	sk.Close()
	// The newest files, oldest first, hold a gap-free tail of the chain.
	var all []audit.Entry
	for _, p := range []string{path + ".3", path + ".2", path + ".1", path} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if len(b) > 4000 {
			t.Fatalf("%s is %d bytes", p, len(b))
		}
		for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
			var e audit.Entry
			if err := json.Unmarshal(line, &e); err != nil {
				t.Fatal(err)
			}
			all = append(all, e)
		}
	}
	if _, err := os.Stat(path + ".4"); err == nil {
		t.Fatal("kept more than max_files")
	}
	first := all[0].Seq
	es, _ := audit.ReadAll(context.Background(), src, first-1, first-1)
	if err := audit.Verify(all, audit.ChainHead{Seq: first - 1, Hash: es[0].Hash}); err != nil || all[len(all)-1].Seq != 60 {
		t.Fatalf("rotated files do not hold a verifiable tail: %v", err)
	}
}

// TestHTTPSinkHTTPSFromConfig: an https receiver with a private CA, the
// sink built from its config (ca_file, token_env).
func TestHTTPSinkHTTPSFromConfig(t *testing.T) {
	srv := hectest.StartTLS("tls-token", nil)
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	t.Setenv("TEST_HEC_TOKEN", "tls-token")
	cfg := SinkConfig{Name: "hec-tls", Type: TypeHTTP, URL: srv.URL + "/services/collector/event", TokenEnv: "TEST_HEC_TOKEN", CAFile: ca}
	if err := (Config{NodeLog: NodeLogConfig{Disabled: true}, Sinks: []SinkConfig{cfg}}).Validate(); err != nil {
		t.Fatal(err)
	}
	sk, err := cfg.Build("h", "c")
	if err != nil {
		t.Fatal(err)
	}
	es := testEntries(0, 3)
	c := audit.NewChain(audit.ChainHead{})
	for i := range es {
		es[i] = c.Append(es[i])
	}
	if err := sk.Send(context.Background(), es); err != nil {
		t.Fatal(err)
	}
	if got := srv.Indexed(); len(got) != 3 {
		t.Fatalf("%d events", len(got))
	}
}
