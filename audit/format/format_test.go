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

var testOpts = Options{Hostname: "node0.example", ChainID: "dstt-test", Chain: "consensus", ProductVersion: "1"}

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

// plain is an entry whose commit time is known (tricky's is not).
func plain() audit.Entry {
	c := audit.NewChain(audit.ChainHead{})
	e := c.Append(audit.Entry{
		Height: 7, TxIndex: 0, Time: time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC),
		Kind: audit.KindTxCommitted, Actor: "aa11", Action: "put", Resources: []string{"greeting"},
		CodeName: "OK", Message: "committed", TxHash: []byte{1, 2},
	})
	e.CommitTime = time.Date(2025, 1, 2, 3, 4, 6, 500_000_000, time.UTC)
	return e
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

// TestLEEF: LEEF 2.0 defines no escapes, so values are written byte for
// byte; only the delimiter (TAB) and line breaks, which a value cannot
// carry, become spaces.
func TestLEEF(t *testing.T) {
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
		attrs[k] = v
	}
	noBreaks := strings.NewReplacer("\t", " ", "\r", " ", "\n", " ")
	checks := map[string]string{
		"devTime": "2025-03-14T15:09:26.535Z", "devTimeFormat": leefTimeFormat, "sev": "4", "usrName": e.Actor,
		"seq": "2", "msg": noBreaks.Replace(e.Message), "codeName": "CONFLICT", "resource": `a|b=c\d`, "hash": hexOf(e.Hash),
		"resources": noBreaks.Replace(resourcesJSON(e.Resources)),
	}
	for k, want := range checks {
		if attrs[k] != want {
			t.Errorf("%s = %q, want %q", k, attrs[k], want)
		}
	}
	if _, err := New(LEEF, Options{Vendor: "a|b"}); err == nil || !strings.Contains(err.Error(), "vendor") {
		t.Errorf("vendor with | accepted: %v", err)
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
		et, _ := e.EventTime() // the commit time, when known
		if !sm.Timestamp.Equal(et.Truncate(time.Microsecond)) {
			t.Fatalf("timestamp %v, want %v", sm.Timestamp, et)
		}
		if !strings.Contains(string(line), et.Format(" 2006-01-02T15:04:05.000000Z ")) {
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
		wantMsg := "\uFEFF" + strings.NewReplacer(`\`, `\\`, "\n", `\n`, "\r", `\r`).Replace(e.Message)
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
	if sm.StructuredData != nil || !strings.HasPrefix(*sm.Message, "\uFEFFCEF:0|dstt|") || *sm.Severity != 5 {
		t.Fatalf("wrapped: %s", line)
	}
}

// jsonGet reads a dotted path from a decoded JSON document.
func jsonGet(m map[string]any, path string) any {
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

func decode(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return m
}

// TestJSONFormats checks the attributes HEC and the native JSON need.
func TestJSONFormats(t *testing.T) {
	for _, e := range []audit.Entry{tricky(), plain()} {
		for name, required := range map[string][]string{
			HEC:  {"time", "source", "sourcetype", "event.hash", "fields.seq"},
			JSON: {"seq", "kind", "hash", "time"},
		} {
			b := mustNew(t, name).Append(nil, &e)
			m := decode(t, b)
			for _, r := range required {
				if jsonGet(m, r) == nil {
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

// TestNoHTMLEscaping: "<", ">" and "&" stay literal in every format, so a
// SIEM's literal search finds them.
func TestNoHTMLEscaping(t *testing.T) {
	e := sampleEntries()[1] // resource "a<b>&c"
	for _, name := range Names() {
		out := string(mustNew(t, name).Append(nil, &e))
		if !strings.Contains(out, "a<b>&c") || strings.Contains(out, `\u003c`) || strings.Contains(out, `\u0026`) {
			t.Errorf("%s: %s", name, out)
		}
	}
}

// mappingCase says what one sample entry's document must (and must not)
// hold: want maps a dotted path to its value (nil: absent).
type mappingCase struct {
	seq  uint64
	want map[string]any
}

func checkMapping(t *testing.T, name string, cases []mappingCase) {
	t.Helper()
	es := sampleEntries()
	for _, c := range cases {
		e := es[c.seq-1]
		b := mustNew(t, name).Append(nil, &e)
		m := decode(t, b)
		for path, want := range c.want {
			got := jsonGet(m, path)
			if w, ok := want.([]any); ok {
				if !reflect.DeepEqual(got, w) {
					t.Errorf("%s %s: %s = %v, want %v\n%s", name, sampleName(&e), path, got, want, b)
				}
				continue
			}
			if got != want {
				t.Errorf("%s %s: %s = %v, want %v\n%s", name, sampleName(&e), path, got, want, b)
			}
		}
	}
}

// TestOCSFMapping: class per kind, and actor, user, privileges, resources,
// client endpoint as the entry names them (nothing made up, the node's
// address never the client's).
func TestOCSFMapping(t *testing.T) {
	checkMapping(t, OCSF, []mappingCase{
		{1, map[string]any{"class_uid": 6001.0, "activity_id": 3.0, "actor.user.uid": signer, "web_resources": []any{map[string]any{"uid": "greeting"}}, "src_endpoint": nil, "status_id": 1.0}},
		{2, map[string]any{"activity_id": 4.0, "type_uid": 600104.0}},
		{5, map[string]any{"class_uid": 6001.0, "status_id": 2.0, "status_code": "UNAUTHORIZED", "actor.user.uid": signer}},
		{6, map[string]any{"class_uid": 6001.0, "actor": nil, "user": nil, "metadata.profiles": nil}},
		{7, map[string]any{"class_uid": 3005.0, "type_uid": 300501.0, "user.uid": signer, "privileges": []any{"writer"},
			"resources": []any{map[string]any{"uid": "acme", "type": "domain"}}, "actor.user.uid": signer}},
		{8, map[string]any{"class_uid": 3005.0, "activity_id": 2.0, "privileges": []any{"writer"}}},
		{9, map[string]any{"class_uid": 6001.0, "user": nil, "privileges": nil}},
		{13, map[string]any{"class_uid": 2004.0, "finding_info.title": "Validator misbehaviour evidence", "status_id": 1.0}},
		{14, map[string]any{"class_uid": 6002.0, "activity_id": 3.0, "app.name": "dstt"}},
		{16, map[string]any{"class_uid": 6001.0, "src_endpoint": nil}},
		{17, map[string]any{"class_uid": 6001.0, "src_endpoint.ip": "192.0.2.7", "web_resources": []any{map[string]any{"uid": "deadbeef", "type": "tx"}}}},
		{19, map[string]any{"class_uid": 6001.0, "user": nil, "actor": nil, "src_endpoint.ip": "2001:db8::7", "status_id": 2.0}},
		{20, map[string]any{"class_uid": 6001.0, "user": nil, "src_endpoint.ip": "192.0.2.7", "activity_id": 2.0}},
		{27, map[string]any{"count": 9999.0, "web_resources": []any{map[string]any{"type": "ledger", "uid": "dstt-test"}}, "src_endpoint.ip": "192.0.2.8"}},
		{21, map[string]any{"class_uid": 3002.0, "type_uid": 300201.0, "user.uid": "cert:" + certHash, "src_endpoint.ip": "198.51.100.4", "resources": nil, "status_id": 2.0}},
		{22, map[string]any{"class_uid": 3002.0, "user.uid": signer, "service.name": "dstt"}},
		{23, map[string]any{"class_uid": 6001.0, "user": nil}},
		{25, map[string]any{"class_uid": 1008.0, "activity_id": 2.0, "device.hostname": "node0.example"}},
	})
}

// TestECSMapping: the same decisions in ECS.
func TestECSMapping(t *testing.T) {
	checkMapping(t, ECS, []mappingCase{
		{1, map[string]any{"user.id": signer, "source": nil, "event.type": []any{"change"}, "event.outcome": "success"}},
		{5, map[string]any{"event.category": []any{"api"}, "event.type": []any{"access", "denied"}, "event.outcome": "failure"}},
		{6, map[string]any{"user": nil}},
		{13, map[string]any{"event.kind": "alert", "event.category": []any{"intrusion_detection"}, "event.type": []any{"info"}}},
		{14, map[string]any{"service.node.name": "0b9f1e0cc8e3f7a2d4c6b8a0e2f4d6c8b0a2c4e6", "user": nil}},
		{17, map[string]any{"user.id": signer, "source.ip": "192.0.2.7"}},
		{18, map[string]any{"user": nil, "tls.client.hash.sha256": certHash, "source.ip": "2001:db8::9"}},
		{19, map[string]any{"user": nil, "source.ip": "2001:db8::7", "event.category": []any{"authentication"}, "event.outcome": "failure"}},
		{21, map[string]any{"user.id": "cert:" + certHash, "tls.client.hash.sha256": certHash, "source.ip": "198.51.100.4", "related.ip": []any{"198.51.100.4"}}},
		{23, map[string]any{"user": nil, "source": nil}},
	})
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

// TestGolden pins each format's exact output for the two entries above and
// the sample entry of every kind; rewrite
// with -rewrite and review the diff.
func TestGolden(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			f := mustNew(t, name)
			var out []byte
			for _, e := range append([]audit.Entry{plain(), tricky()}, sampleEntries()...) {
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

// TestCEFLEEFParties: CEF and LEEF name the same user and client as ECS
// and OCSF: no user for a client known only by address, the client's
// address (its endpoint, also for a certificate client) in src (IPv4) or
// c6a2 (IPv6), and the node's ID for node_started.
func TestCEFLEEFParties(t *testing.T) {
	es := sampleEntries()
	cases := []struct {
		seq       uint64
		cef, leef map[string]string
	}{
		{19, map[string]string{"suser": "", "src": "", "c6a2": "2001:db8::7", "c6a2Label": "sourceIPv6Address"}, map[string]string{"usrName": "", "src": "2001:db8::7"}},
		{20, map[string]string{"suser": "", "src": "192.0.2.7"}, map[string]string{"usrName": "", "src": "192.0.2.7", "actor": "ip:192.0.2.7"}},
		{21, map[string]string{"suser": "cert:" + certHash, "src": "198.51.100.4"}, map[string]string{"usrName": "cert:" + certHash, "src": "198.51.100.4", "endpoint": ""}},
		{27, map[string]string{"cnt": "9999", "src": "192.0.2.8"}, map[string]string{"src": "192.0.2.8"}},
		{26, map[string]string{"cnt": "", "c6a2": "2001:db8::7", "act": "submit"}, map[string]string{"src": "2001:db8::7"}},
		{18, map[string]string{"suser": "", "src": "", "c6a2": "2001:db8::9"}, map[string]string{"usrName": "", "src": "2001:db8::9"}},
		{14, map[string]string{"suser": "", "deviceExternalId": es[13].Actor}, map[string]string{"usrName": "", "nodeId": es[13].Actor}},
		{17, map[string]string{"suser": signer, "src": "192.0.2.7"}, map[string]string{"usrName": signer, "src": "192.0.2.7", "resource": ""}},
	}
	for _, c := range cases {
		e := es[c.seq-1]
		_, ext := parseCEF(t, string(mustNew(t, CEF).Append(nil, &e)))
		for k, want := range c.cef {
			if ext[k] != want {
				t.Errorf("cef %s: %s = %q, want %q", sampleName(&e), k, ext[k], want)
			}
		}
		line := string(mustNew(t, LEEF).Append(nil, &e))
		attrs := map[string]string{}
		for _, p := range strings.Split(line[strings.Index(line, "|x09|")+5:], "\t") {
			k, v, _ := strings.Cut(p, "=")
			attrs[k] = v
		}
		for k, want := range c.leef {
			if attrs[k] != want {
				t.Errorf("leef %s: %s = %q, want %q", sampleName(&e), k, attrs[k], want)
			}
		}
	}
}

// TestSyslogWrapNotUTF8: a record holding bytes that are not UTF-8 is
// MSG-ANY, without the BOM that would claim UTF-8.
func TestSyslogWrapNotUTF8(t *testing.T) {
	e := plain()
	e.Message = "bad \xff\xfe bytes"
	line := Syslog(mustNew(t, CEF), testOpts).Append(nil, &e)
	if !strings.Contains(string(line), " - CEF:0|") {
		t.Fatalf("BOM before a non-UTF-8 record: %q", line)
	}
	e = plain()
	line = Syslog(mustNew(t, LEEF), testOpts).Append(nil, &e)
	if !strings.Contains(string(line), " - \uFEFFLEEF:2.0|") {
		t.Fatalf("no BOM before a UTF-8 record: %q", line)
	}
}
