package sink

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/leodido/go-syslog/v4/rfc5424"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/dstt/dstt/audit"
)

// testEntries returns n unchained entries with awkward strings.
func testEntries(start, n int) []audit.Entry {
	base := time.Date(2025, 5, 6, 7, 8, 9, 123456789, time.UTC)
	out := make([]audit.Entry, n)
	for k := range out {
		i := start + k
		e := audit.Entry{
			Height: uint64(i/4 + 1), TxIndex: uint32(i % 4), Time: base.Add(time.Duration(i/4) * time.Second),
			Kind: audit.KindTxCommitted, Actor: fmt.Sprintf("%040x", i%9), Action: "put",
			Resources: []string{fmt.Sprintf("acct/%d", i)}, CodeName: "OK", Message: "committed",
			TxHash: []byte(fmt.Sprintf("tx%030d", i)),
		}
		if i%5 == 2 {
			e.Kind, e.Code, e.CodeName, e.Action = audit.KindTxRejected, 9, "CONFLICT", "batch"
			e.Message = fmt.Sprintf("op 1: key \"a|b=c\\d]\" moved (entry %d)\nsee \"docs\"", i)
			e.Resources = []string{`a|b=c\d]`, "x y"}
		}
		out[k] = e
	}
	return out
}

func newSource(n int) *audit.InMemorySource {
	src := audit.NewInMemorySource()
	src.Append(testEntries(0, n)...)
	return src
}

// parseCEF undoes CEF escaping: header fields and extension pairs.
func parseCEF(t testing.TB, s string) ([]string, map[string]string) {
	t.Helper()
	i := strings.Index(s, "CEF:")
	if i < 0 {
		t.Fatalf("no CEF in %q", s)
	}
	s = s[i+4:]
	var fields []string
	var cur strings.Builder
	j := 0
	for ; j < len(s) && len(fields) < 7; j++ {
		switch c := s[j]; {
		case c == '\\' && j+1 < len(s) && (s[j+1] == '|' || s[j+1] == '\\'):
			cur.WriteByte(s[j+1])
			j++
		case c == '|':
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	ext := s[j:]
	type kv struct{ key, eq int }
	var eqs []kv
	for k := 0; k < len(ext); k++ {
		if ext[k] == '\\' {
			k++
			continue
		}
		if ext[k] == '=' {
			eqs = append(eqs, kv{strings.LastIndexByte(ext[:k], ' ') + 1, k})
		}
	}
	out := map[string]string{}
	for n, p := range eqs {
		end := len(ext)
		if n+1 < len(eqs) {
			end = eqs[n+1].key - 1
		}
		out[ext[p.key:p.eq]] = strings.NewReplacer(`\\`, `\`, `\=`, `=`, `\n`, "\n", `\r`, "\r").Replace(ext[p.eq+1 : end])
	}
	return fields, out
}

// checkCEF checks that a CEF line carries entry e's fields.
func checkCEF(t testing.TB, line string, e audit.Entry) {
	t.Helper()
	hdr, ext := parseCEF(t, line)
	if len(hdr) != 7 || hdr[4] != string(e.Kind) {
		t.Fatalf("seq %d: header %q", e.Seq, hdr)
	}
	res, _ := json.Marshal(e.Resources)
	want := map[string]string{
		"externalId": strconv.FormatUint(e.Seq, 10), "suser": e.Actor, "act": e.Action, "msg": e.Message,
		"cn1": strconv.FormatUint(e.Height, 10), "cn2": strconv.FormatUint(uint64(e.TxIndex), 10),
		"cn3": strconv.FormatUint(uint64(e.Code), 10), "reason": e.CodeName, "cs1": hex.EncodeToString(e.TxHash),
		"cs2": hex.EncodeToString(e.Hash), "cs3": hex.EncodeToString(e.PrevHash), "cs4": string(res),
		"rt": strconv.FormatInt(e.Time.UnixMilli(), 10),
	}
	if e.Seq == 1 {
		delete(want, "cs3")
	}
	for k, v := range want {
		if ext[k] != v {
			t.Fatalf("seq %d: %s = %q, want %q\nline: %s", e.Seq, k, ext[k], v, line)
		}
	}
}

// parseRFC5424Entry rebuilds an entry from an RFC 5424 record made by the
// rfc5424 format: every field is in the structured data or MSG, so the
// rebuilt entry must hash to its hash.
func parseRFC5424Entry(t testing.TB, line string) audit.Entry {
	t.Helper()
	m, err := rfc5424.NewParser().Parse([]byte(line))
	if err != nil {
		t.Fatalf("%v: %q", err, line)
	}
	sm := m.(*rfc5424.SyslogMessage)
	if sm.StructuredData == nil {
		t.Fatalf("no structured data: %q", line)
	}
	sd := (*sm.StructuredData)["dstt@32473"]
	u := func(k string) uint64 {
		if sd[k] == "" {
			return 0
		}
		v, err := strconv.ParseUint(sd[k], 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		return v
	}
	h := func(k string) []byte {
		v, _ := hex.DecodeString(sd[k])
		if len(v) == 0 {
			return nil
		}
		return v
	}
	e := audit.Entry{
		Seq: u("seq"), Height: u("height"), TxIndex: uint32(u("txIndex")), Kind: audit.Kind(sd["kind"]),
		Actor: sd["actor"], Endpoint: sd["endpoint"], Action: sd["action"], Code: uint32(u("code")), CodeName: sd["codeName"],
		TxHash: h("txHash"), PrevHash: h("prevHash"), Hash: h("hash"),
	}
	if r := sd["resources"]; r != "" {
		json.Unmarshal([]byte(r), &e.Resources)
	}
	ts, err := time.Parse(time.RFC3339Nano, sd["time"])
	if err != nil {
		t.Fatal(err)
	}
	e.Time = ts.UTC()
	if sm.Message != nil {
		var b strings.Builder
		msg := strings.TrimPrefix(*sm.Message, "\uFEFF") // MSG-UTF8 starts with the BOM (RFC 5424 6.4)
		for i := 0; i < len(msg); i++ {
			if msg[i] == '\\' && i+1 < len(msg) {
				i++
				switch msg[i] {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				default:
					b.WriteByte(msg[i])
				}
				continue
			}
			b.WriteByte(msg[i])
		}
		e.Message = b.String()
	}
	return e
}

// metricValue reads a gauge's or counter's current value.
func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	if m.Gauge != nil {
		return m.Gauge.GetValue()
	}
	return m.Counter.GetValue()
}

// waitCursor waits until the shipper has acknowledged seq.
func waitCursor(t testing.TB, sh *Shipper, seq uint64, timeout time.Duration) {
	t.Helper()
	waitStatus(t, sh, timeout, fmt.Sprintf("cursor at %d", seq), func(st Status) bool { return st.Cursor.Seq >= seq })
}

// waitStatus waits on the shipper's status-change event until ok holds,
// failing the test after timeout.
func waitStatus(t testing.TB, sh *Shipper, timeout time.Duration, what string, ok func(Status) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		changed := sh.StatusChanged() // before Status: no change is missed
		st := sh.Status()
		if ok(st) {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("%s: no %s after %v; status %+v", st.Sink, what, timeout, st)
		}
	}
}

// pollUntil is a poll with a deadline, for conditions with no event to wait
// on: the files a real rsyslogd writes. It checks cond every interval and
// fails the test after timeout.
func pollUntil(t testing.TB, timeout, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, timeout)
		}
		time.Sleep(interval)
	}
}
