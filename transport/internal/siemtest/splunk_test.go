package siemtest

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dlclark/regexp2"

	"github.com/dstt/dstt/audit/format"
)

// conf is a parsed Splunk .conf file: stanza -> key -> value.
type conf map[string]map[string]string

// readConf parses the subset of Splunk's .conf syntax the dstt files use:
// comments, [stanza] lines and "key = value" lines.
func readConf(t *testing.T, name string) conf {
	t.Helper()
	f, err := os.Open(filepath.Join(siemDir, "splunk", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := conf{}
	var cur map[string]string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			cur = map[string]string{}
			c[line[1:len(line)-1]] = cur
		case cur != nil && strings.Contains(line, " = "):
			k, v, _ := strings.Cut(line, " = ")
			if _, dup := cur[k]; dup {
				t.Errorf("%s:%d: %s set twice", name, n, k)
			}
			cur[k] = v
		default:
			t.Errorf("%s:%d: not a stanza or key = value: %q", name, n, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

// pcre compiles a Splunk REGEX with regexp2, which, like Splunk's PCRE,
// has named groups (?<name>) and lookarounds.
func pcre(t *testing.T, expr string) *regexp2.Regexp {
	t.Helper()
	re, err := regexp2.Compile(expr, regexp2.None)
	if err != nil {
		t.Fatalf("regex %q: %v", expr, err)
	}
	return re
}

var (
	numericGroup    = regexp.MustCompile(`^\d+$`)
	dashboardSearch = regexp.MustCompile(`^\s*sourcetype=dstt:audit\*\s`)
)

// extract applies a source type's REPORT transforms (in class-name order,
// each list in its order) and FIELDALIASes to raw, as Splunk does at
// search time.
func extract(t *testing.T, props map[string]string, transforms conf, raw string) map[string][]string {
	t.Helper()
	fields := map[string][]string{}
	keys := slices.Sorted(maps.Keys(props))
	for _, k := range keys {
		if !strings.HasPrefix(k, "REPORT-") {
			continue
		}
		for _, name := range strings.Split(props[k], ",") {
			tr := transforms[strings.TrimSpace(name)]
			src := raw
			if sk := tr["SOURCE_KEY"]; sk != "" && sk != "_raw" {
				if len(fields[sk]) == 0 {
					continue
				}
				src = fields[sk][0]
			}
			re := pcre(t, tr["REGEX"])
			m, err := re.FindStringMatch(src)
			for ; err == nil && m != nil; m, err = re.FindNextMatch(m) {
				if tr["FORMAT"] == "$1::$2" {
					g := m.Groups()
					fields[g[1].String()] = append(fields[g[1].String()], g[2].String())
					continue
				}
				for _, g := range m.Groups() {
					if !numericGroup.MatchString(g.Name) && g.Length > 0 {
						fields[g.Name] = append(fields[g.Name], g.String())
					}
				}
				break // named-group transforms take the first match
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "FIELDALIAS-") {
			continue
		}
		f := strings.Fields(props[k])
		for i := 0; i+2 < len(f); i += 3 {
			if f[i+1] != "AS" {
				t.Fatalf("%s: %q is not FIELD AS ALIAS", k, props[k])
			}
			if v, ok := fields[f[i]]; ok {
				fields[f[i+2]] = v
			}
		}
	}
	return fields
}

// timeAfter returns the text after the first match of a TIME_PREFIX.
func timeAfter(t *testing.T, prefix, raw string) string {
	t.Helper()
	m, err := pcre(t, prefix).FindStringMatch(raw)
	if err != nil || m == nil {
		t.Fatalf("TIME_PREFIX %q does not match %s", prefix, raw)
	}
	return string([]rune(raw)[m.Index+m.Length:]) // regexp2 counts runes
}

// TestSplunkConf checks props.conf and transforms.conf against the records
// dstt writes for every generated entry: the field extractions give the
// native field names and values, and TIME_PREFIX finds the event time.
func TestSplunkConf(t *testing.T) {
	props, transforms := readConf(t, "props.conf"), readConf(t, "transforms.conf")
	for st, kv := range props {
		if !strings.HasPrefix(st, "dstt:audit") {
			t.Errorf("props.conf: source type %q is outside dstt:audit*, which the dashboard searches", st)
		}
		for k, v := range kv {
			if !strings.HasPrefix(k, "REPORT-") {
				continue
			}
			for _, name := range strings.Split(v, ",") {
				if _, ok := transforms[strings.TrimSpace(name)]; !ok {
					t.Errorf("props.conf [%s] %s: no transform %q", st, k, name)
				}
			}
		}
	}
	for name, tr := range transforms {
		pcre(t, tr["REGEX"])
		if f := tr["FORMAT"]; f != "" && f != "$1::$2" {
			t.Errorf("transforms.conf [%s]: FORMAT %q is not one this test emulates", name, f)
		}
	}
	events := generated(t)
	for _, ev := range events {
		opts := format.Options{Chain: ev.chain, ChainID: "dstt-test", Hostname: "node0.example"}
		_, src := ev.entry.EventTime()
		for _, st := range []struct{ sourcetype, format string }{{"dstt:audit:rfc5424", format.RFC5424}, {"dstt:audit:cef", format.CEF}} {
			f, err := format.New(st.format, opts)
			if err != nil {
				t.Fatal(err)
			}
			raw := string(format.Syslog(f, opts).Append(nil, &ev.entry))
			got := extract(t, props[st.sourcetype], transforms, raw)
			want := map[string]string{"kind": string(ev.entry.Kind), "seq": strconv.FormatUint(ev.entry.Seq, 10),
				"code_name": ev.entry.CodeName, "hash": hex.EncodeToString(ev.entry.Hash), "action": ev.entry.Action,
				"time_source": string(src)}
			for field, w := range want {
				if w == "" {
					continue
				}
				if g := got[field]; len(g) != 1 || g[0] != w {
					t.Errorf("%s: %s = %q, want %q\n  %s", st.sourcetype, field, g, w, raw)
				}
			}
			ts := timeAfter(t, props[st.sourcetype]["TIME_PREFIX"], raw)
			checkSplunkTime(t, st.sourcetype, ts, ev)
		}
		ts := timeAfter(t, props["dstt:audit:json"]["TIME_PREFIX"], string(ev.line))
		checkSplunkTime(t, "dstt:audit:json", ts, ev)
	}
}

// checkSplunkTime checks that the text after TIME_PREFIX starts with the
// entry's event time: commit_time when the native line has one, else time.
func checkSplunkTime(t *testing.T, sourcetype, after string, ev event) {
	t.Helper()
	var native struct {
		Time       string `json:"time"`
		CommitTime string `json:"commit_time"`
	}
	if err := json.Unmarshal(ev.line, &native); err != nil {
		t.Fatal(err)
	}
	wantText := native.Time
	if native.CommitTime != "" {
		wantText = native.CommitTime
	}
	want, err := time.Parse(time.RFC3339Nano, wantText)
	if err != nil {
		t.Fatal(err)
	}
	var got time.Time
	switch sourcetype {
	case "dstt:audit:cef": // %s%3N
		ms, err := strconv.ParseInt(after[:13], 10, 64)
		if err != nil {
			t.Fatalf("%s: %v in %q", sourcetype, err, after)
		}
		got, want = time.UnixMilli(ms), want.Truncate(time.Millisecond)
	case "dstt:audit:rfc5424": // %Y-%m-%dT%H:%M:%S.%6N%Z
		got, err = time.Parse("2006-01-02T15:04:05.000000Z", after[:len("2006-01-02T15:04:05.000000Z")])
		want = want.Truncate(time.Microsecond)
	default: // ISO 8601, as many fraction digits as needed
		got, err = time.Parse(time.RFC3339Nano, after[:strings.IndexByte(after, '"')])
	}
	if err != nil || !got.Equal(want) {
		t.Errorf("%s: time after TIME_PREFIX %q is %v (%v), want %v\n  %s", sourcetype, after[:min(len(after), 40)], got, err, want, ev.line)
	}
}

// TestSplunkDashboard checks that the dashboard is well-formed Simple XML
// whose searches read the dstt source types.
func TestSplunkDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(siemDir, "splunk", "dstt_security_dashboard.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		XMLName xml.Name `xml:"dashboard"`
		Label   string   `xml:"label"`
	}
	if err := xml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	// Every <query>, wherever it is (single, chart, table panels).
	var queries []string
	dec := xml.NewDecoder(bytes.NewReader(b))
	inQuery := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			inQuery = tok.Name.Local == "query"
		case xml.EndElement:
			inQuery = false
		case xml.CharData:
			if inQuery {
				queries = append(queries, string(tok))
			}
		}
	}
	if d.Label == "" || len(queries) < 5 {
		t.Fatalf("dashboard %q has %d searches", d.Label, len(queries))
	}
	for _, q := range queries {
		if !dashboardSearch.MatchString(q) {
			t.Errorf("search does not start with sourcetype=dstt:audit*: %s", q)
		}
	}
}
