package format

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"

	"github.com/dstt/dstt/audit"
)

var rewrite = flag.Bool("rewrite", false, "rewrite testdata/golden files")

var testOpts = Options{Hostname: "node0.example", ChainID: "dstt-test", Chain: "consensus"}

// tricky is an entry whose strings hold every character some format must
// escape.
func tricky() audit.Entry {
	c := audit.NewChain(audit.ChainHead{})
	c.Append(audit.Entry{Kind: audit.KindTxCommitted, Time: time.Unix(1, 0)})
	return c.Append(audit.Entry{
		Height: 42, TxIndex: 3, Time: time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC),
		Kind: audit.KindTxRejected, Actor: "3f9a5c0e6d7b8a1f2e3d4c5b6a7980f1e2d3c4b5", Action: "batch",
		Resources: []string{`a|b=c\d`, "line\nbreak", `quote"]`, "tab\there"},
		Code:      9, CodeName: "CONFLICT",
		Message: "op 0: key \"a|b=c\\d\" is at version 3.0, the tx expected 0\r\nsecond line ]\"",
		TxHash:  []byte{0xde, 0xad, 0xbe, 0xef},
	})
}

func plain() audit.Entry {
	c := audit.NewChain(audit.ChainHead{})
	return c.Append(audit.Entry{
		Height: 7, TxIndex: 0, Time: time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC),
		Kind: audit.KindTxCommitted, Actor: "aa11", Action: "put", Resources: []string{"greeting"},
		CodeName: "OK", Message: "committed", TxHash: []byte{1, 2},
	})
}

// TestCEFEscaping: the escaping examples of the ArcSight CEF specification
// ("Implementing ArcSight CEF", rev. 25).
func TestCEFEscaping(t *testing.T) {
	header := []struct{ in, want string }{
		{"detected a | in message", `detected a \| in message`},
		{`detected a \ in packet`, `detected a \\ in packet`},
		{"detected a = in message", "detected a = in message"}, // = needs no escaping in the header
		{"two\nlines", "two lines"},                            // no line breaks in the header
	}
	for _, c := range header {
		if got := string(appendCEFHeader(nil, c.in)); got != c.want {
			t.Errorf("header %q: got %q, want %q", c.in, got, c.want)
		}
	}
	ext := []struct{ in, want string }{
		{"blocked a | dst=1.1.1.1", `blocked a | dst\=1.1.1.1`}, // | needs no escaping in the extension
		{`blocked a \ here`, `blocked a \\ here`},               // spec: act=blocked a \\ dst=1.1.1.1
		{"blocked a = here", `blocked a \= here`},               // spec: act=blocked a \= dst=1.1.1.1
		{"Detected a threat.\n No action needed.", `Detected a threat.\n No action needed.`},
		{"cr\rlf", `cr\rlf`},
	}
	for _, c := range ext {
		if got := string(appendCEFValue(nil, c.in)); got != c.want {
			t.Errorf("extension %q: got %q, want %q", c.in, got, c.want)
		}
	}
}

// parseCEF splits a CEF record into its 7 header fields and its extension
// pairs, undoing the escaping: an independent reader for the round trip.
func parseCEF(t *testing.T, s string) ([]string, map[string]string) {
	t.Helper()
	if !strings.HasPrefix(s, "CEF:") {
		t.Fatalf("no CEF prefix: %q", s)
	}
	var fields []string
	var cur strings.Builder
	i := 4
	for ; i < len(s) && len(fields) < 7; i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s) && (s[i+1] == '|' || s[i+1] == '\\'):
			cur.WriteByte(s[i+1])
			i++
		case c == '|':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if len(fields) != 7 {
		t.Fatalf("%d header fields in %q", len(fields), s)
	}
	ext := s[i:]
	// Keys start after a space (or at 0) and end at an unescaped '='.
	type kv struct{ key, start int }
	var eqs []kv
	for j := 0; j < len(ext); j++ {
		if ext[j] == '\\' {
			j++
			continue
		}
		if ext[j] == '=' {
			k := strings.LastIndexByte(ext[:j], ' ') + 1
			eqs = append(eqs, kv{k, j})
		}
	}
	out := map[string]string{}
	for n, p := range eqs {
		end := len(ext)
		if n+1 < len(eqs) {
			end = eqs[n+1].key - 1
		}
		v := ext[p.start+1 : end]
		v = strings.NewReplacer(`\\`, `\`, `\=`, `=`, `\n`, "\n", `\r`, "\r").Replace(v)
		out[ext[p.key:p.start]] = v
	}
	return fields, out
}

func mustNew(t *testing.T, name string) Formatter {
	t.Helper()
	f, err := New(name, testOpts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestCEFRoundTrip(t *testing.T) {
	e := tricky()
	line := string(mustNew(t, CEF).Append(nil, &e))
	if strings.ContainsAny(line, "\r\n") {
		t.Fatalf("line break in %q", line)
	}
	hdr, ext := parseCEF(t, line)
	wantHdr := []string{"0", "dstt", "dstt", "1", "tx_rejected", "Transaction rejected in block", "4"}
	if !reflect.DeepEqual(hdr, wantHdr) {
		t.Fatalf("header %q", hdr)
	}
	var res []string
	json.Unmarshal([]byte(ext["cs4"]), &res)
	checks := map[string]string{
		"externalId": "2", "act": "batch", "suser": e.Actor, "outcome": "failure", "reason": "CONFLICT",
		"msg": e.Message, "cn1": "42", "cn2": "3", "cn3": "9", "cs1": "deadbeef", "cs2": hexOf(e.Hash),
		"cs3": hexOf(e.PrevHash), "cs5": "dstt-test", "cat": "consensus", "rt": "1741964966535", "dvchost": "node0.example",
	}
	for k, want := range checks {
		if ext[k] != want {
			t.Errorf("%s = %q, want %q", k, ext[k], want)
		}
	}
	if !reflect.DeepEqual(res, e.Resources) {
		t.Errorf("resources %q", res)
	}
}

func TestLEEFRoundTrip(t *testing.T) {
	e := tricky()
	line := string(mustNew(t, LEEF).Append(nil, &e))
	const prefix = "LEEF:2.0|dstt|dstt|1|tx_rejected|x09|"
	if !strings.HasPrefix(line, prefix) || strings.ContainsAny(line, "\r\n") {
		t.Fatalf("bad line %q", line)
	}
	attrs := map[string]string{}
	for _, p := range strings.Split(line[len(prefix):], "\t") {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			t.Fatalf("attribute without =: %q", p)
		}
		attrs[k] = strings.NewReplacer(`\\`, `\`, `\t`, "\t", `\n`, "\n", `\r`, "\r").Replace(v)
	}
	checks := map[string]string{
		"devTime": "2025-03-14T15:09:26.535Z", "devTimeFormat": leefTimeFormat, "sev": "4", "usrName": e.Actor,
		"seq": "2", "msg": e.Message, "codeName": "CONFLICT", "resource": `a|b=c\d`, "hash": hexOf(e.Hash),
	}
	for k, want := range checks {
		if attrs[k] != want {
			t.Errorf("%s = %q, want %q", k, attrs[k], want)
		}
	}
}

// TestRFC5424 parses the output with leodido/go-syslog's strict RFC 5424
// parser and checks every structured-data value survives.
func TestRFC5424(t *testing.T) {
	for _, e := range []audit.Entry{tricky(), plain()} {
		line := mustNew(t, RFC5424).Append(nil, &e)
		m, err := rfc5424.NewParser().Parse(line)
		if err != nil {
			t.Fatalf("%v\n%s", err, line)
		}
		sm := m.(*rfc5424.SyslogMessage)
		if *sm.Hostname != "node0.example" || *sm.Appname != "dstt" || *sm.MsgID != string(e.Kind) || *sm.Facility != 13 {
			t.Fatalf("header fields: %+v", sm)
		}
		if !sm.Timestamp.Equal(e.Time.Truncate(time.Microsecond)) {
			t.Fatalf("timestamp %v, want %v", sm.Timestamp, e.Time)
		}
		if !strings.Contains(string(line), e.Time.Format(" 2006-01-02T15:04:05.000000Z ")) {
			t.Fatalf("timestamp not in 6-digit form: %s", line)
		}
		sd := (*sm.StructuredData)["dstt@32473"]
		res, _ := json.Marshal(e.Resources)
		want := map[string]string{
			"seq": "2", "kind": string(e.Kind), "actor": e.Actor, "action": e.Action, "resources": string(res),
			"codeName": e.CodeName, "hash": hexOf(e.Hash), "prevHash": hexOf(e.PrevHash),
			"time": e.Time.Format("2006-01-02T15:04:05.000000000Z"), "chainId": "dstt-test",
		}
		if e.Seq == 1 {
			want["seq"] = "1"
			delete(want, "prevHash")
		}
		for k, v := range want {
			if sd[k] != v {
				t.Errorf("seq %d: SD %s = %q, want %q", e.Seq, k, sd[k], v)
			}
		}
		wantMsg := strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`).Replace(e.Message)
		if sm.Message == nil || *sm.Message != wantMsg {
			t.Errorf("MSG %v, want %q", sm.Message, wantMsg)
		}
	}
}

func TestSyslogWrap(t *testing.T) {
	e := tricky()
	line := Syslog(mustNew(t, CEF), testOpts).Append(nil, &e)
	m, err := rfc5424.NewParser().Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	sm := m.(*rfc5424.SyslogMessage)
	if sm.StructuredData != nil || !strings.HasPrefix(*sm.Message, "CEF:0|dstt|") || *sm.Severity != 5 {
		t.Fatalf("wrapped: %s", line)
	}
}

// TestJSONFormats checks the required attributes of each JSON format.
func TestJSONFormats(t *testing.T) {
	kinds := []audit.Entry{tricky(), plain(),
		{Seq: 3, Kind: audit.KindAuthFailed, Time: time.Unix(5, 0), Actor: "client-1", Code: 11, CodeName: "UNAUTHORIZED", Hash: []byte{1}},
		{Seq: 4, Kind: audit.KindPolicyChanged, Time: time.Unix(6, 0), Actor: "admin", Action: "grant", Resources: []string{"bob"}, Hash: []byte{2}},
		{Seq: 5, Kind: audit.KindNodeStarted, Time: time.Unix(7, 0), Hash: []byte{3}},
	}
	get := func(m map[string]any, path string) any {
		var v any = m
		for _, p := range strings.Split(path, ".") {
			mm, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = mm[p]
		}
		return v
	}
	for _, e := range kinds {
		for _, name := range []string{ECS, OCSF, HEC, JSON} {
			b := mustNew(t, name).Append(nil, &e)
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s: %v\n%s", name, err, b)
			}
			var required []string
			switch name {
			case ECS:
				required = []string{"@timestamp", "ecs.version", "event.kind", "event.category", "event.type", "event.action", "event.outcome", "event.id", "dstt.audit.hash"}
			case OCSF:
				required = []string{"activity_id", "category_uid", "class_uid", "type_uid", "severity_id", "time", "metadata.version", "metadata.product.name"}
				switch e.Kind {
				case audit.KindAuthFailed:
					required = append(required, "user.uid", "service.name")
					if get(m, "class_uid") != float64(3002) || get(m, "type_uid") != float64(300201) {
						t.Errorf("auth_failed class %v type %v", get(m, "class_uid"), get(m, "type_uid"))
					}
				case audit.KindPolicyChanged:
					required = append(required, "user.uid")
					if get(m, "type_uid") != float64(300501) {
						t.Errorf("policy_changed type %v", get(m, "type_uid"))
					}
				default:
					required = append(required, "actor.user.uid", "api.operation", "src_endpoint")
					if get(m, "class_uid") != float64(6003) {
						t.Errorf("%s class %v", e.Kind, get(m, "class_uid"))
					}
				}
			case HEC:
				required = []string{"time", "source", "sourcetype", "event.hash", "fields.seq"}
			case JSON:
				required = []string{"seq", "kind", "hash", "time"}
			}
			for _, r := range required {
				if get(m, r) == nil {
					t.Errorf("%s %s: missing %s in %s", name, e.Kind, r, b)
				}
			}
		}
	}
	// HEC time is seconds with microseconds, from integers.
	e := tricky()
	var h struct{ Time json.Number }
	json.Unmarshal(mustNew(t, HEC).Append(nil, &e), &h)
	if h.Time != "1741964966.535897" {
		t.Errorf("HEC time %s", h.Time)
	}
}

func TestNativeJSONRoundTrip(t *testing.T) {
	for _, e := range []audit.Entry{tricky(), plain()} {
		var got audit.Entry
		if err := json.Unmarshal(mustNew(t, JSON).Append(nil, &e), &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
		}
	}
}

// TestGolden pins each format's exact output for two entries; rewrite
// with -rewrite and review the diff.
func TestGolden(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			f := mustNew(t, name)
			var out []byte
			for _, e := range []audit.Entry{plain(), tricky()} {
				out = append(f.Append(out, &e), '\n')
			}
			path := filepath.Join("testdata", "golden", name+".txt")
			if *rewrite {
				os.MkdirAll(filepath.Dir(path), 0o755)
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -rewrite)", err)
			}
			if string(want) != string(out) {
				t.Fatalf("output changed:\n got %s\nwant %s", out, want)
			}
		})
	}
}

func TestOptionsValidate(t *testing.T) {
	bad := Options{Facility: 24, SDID: "no spaces allowed", Chain: "other"}
	err := bad.Validate()
	if err == nil {
		t.Fatal("accepted")
	}
	for _, s := range []string{"facility 24", "sd_id", "chain \"other\""} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %s", err, s)
		}
	}
	if _, err := New("xml", Options{}); err == nil {
		t.Fatal("unknown format accepted")
	}
}

func BenchmarkFormat(b *testing.B) {
	e := tricky()
	for _, name := range Names() {
		f, _ := New(name, testOpts)
		b.Run(name, func(b *testing.B) {
			var buf []byte
			for b.Loop() {
				buf = f.Append(buf[:0], &e)
			}
		})
	}
}
