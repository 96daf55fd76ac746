package audit

import (
	"encoding/json"
	"errors"
	"iter"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func writeExport(t *testing.T, es []Entry, edit func(lines []string) []string) string {
	t.Helper()
	var lines []string
	for _, e := range es {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, string(b))
	}
	if edit != nil {
		lines = edit(lines)
	}
	path := filepath.Join(t.TempDir(), "export.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestVerifyExportScope: a file is "anchored" only when its start is seq
// 1 or --after and its end a trusted head; otherwise it verifies for
// internal consistency only and says which end is open. An export whose
// first lines were deleted never passes as anchored.
func TestVerifyExportScope(t *testing.T) {
	es := chained(10)
	head := func(i int) ChainHead { return ChainHead{Seq: es[i].Seq, Hash: es[i].Hash} }
	whole := writeExport(t, es, nil)
	cut := writeExport(t, es, func(l []string) []string { return l[3:] })
	cases := []struct {
		name          string
		path          string
		after, anchor ChainHead
		scope         string
		open          int
	}{
		{"whole, no head", whole, ChainHead{}, ChainHead{}, ScopeInternal, 1},
		{"whole, trusted head", whole, ChainHead{}, head(9), ScopeAnchored, 0},
		{"whole, older trusted head", whole, ChainHead{}, head(5), ScopeInternal, 1},
		{"first lines deleted", cut, ChainHead{}, ChainHead{}, ScopeInternal, 2},
		{"first lines deleted, trusted head", cut, ChainHead{}, head(9), ScopeInternal, 1},
		{"first lines deleted, --after and head", cut, head(2), head(9), ScopeAnchored, 0},
	}
	for _, c := range cases {
		rep, err := VerifyExportFile(c.path, c.after, c.anchor)
		rep.Conclude(err)
		if !rep.OK || rep.Scope != c.scope || len(rep.Open) != c.open {
			t.Errorf("%s: ok %v scope %q open %q (%v)", c.name, rep.OK, rep.Scope, rep.Open, err)
		}
	}
	// --after that does not match the file's first entry fails.
	rep, err := VerifyExportFile(cut, head(1), ChainHead{})
	if rep.Conclude(err); rep.OK || rep.FirstBadSeq == 0 {
		t.Fatalf("wrong --after passed: %+v", rep)
	}
	// The validators' proof anchors the end when it covers the last entry.
	rep, err = VerifyExportFile(whole, ChainHead{}, ChainHead{})
	if err != nil {
		t.Fatal(err)
	}
	proven := &AnchorReport{Head: head(9).String()}
	if err := ProveExport(&rep, Report{Anchor: proven}, nil); err != nil || rep.Scope != ScopeAnchored {
		t.Fatalf("proved export: %q %q %v", rep.Scope, rep.Open, err)
	}
	rep, _ = VerifyExportFile(whole, ChainHead{}, ChainHead{})
	if ProveExport(&rep, Report{Anchor: &AnchorReport{Head: head(7).String()}}, nil); rep.Scope != ScopeInternal {
		t.Fatalf("export past the proven head: %q", rep.Scope)
	}
	rep, _ = VerifyExportFile(whole, ChainHead{}, ChainHead{})
	if err := ProveExport(&rep, Report{}, ErrAppHash); !errors.Is(err, ErrAppHash) {
		t.Fatalf("failed proof: %v", err)
	}
}

// TestVerifyExportStrict: a field the native form does not define, a
// second value on a line, or a time_source that contradicts the times is
// refused, naming the line.
func TestVerifyExportStrict(t *testing.T) {
	es := chained(5)
	for name, edit := range map[string]func(string) string{
		"unknown field":     func(l string) string { return strings.Replace(l, `{"seq"`, `{"approved_by":"ciso","seq"`, 1) },
		"trailing value":    func(l string) string { return l + ` {}` },
		"wrong time_source": func(l string) string { return strings.Replace(l, `"time_source":"block"`, `"time_source":"commit"`, 1) },
		"not json":          func(string) string { return "seq=3" },
		"bad commit_time": func(l string) string {
			return strings.Replace(l, `"time_source"`, `"commit_time":"yesterday","time_source"`, 1)
		},
	} {
		path := writeExport(t, es, func(l []string) []string { l[2] = edit(l[2]); return l })
		_, err := VerifyExportFile(path, ChainHead{}, ChainHead{})
		var ve *VerifyError
		if !errors.As(err, &ve) || ve.Err != ErrCorrupt || ve.Seq != 3 || !strings.Contains(ve.Detail, "line 3") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestEntryJSONTimes: the native JSON form carries commit_time and
// time_source and round-trips them.
func TestEntryJSONTimes(t *testing.T) {
	e := chained(1)[0]
	e.CommitTime = e.Time.Add(61 * time.Second)
	b, _ := json.Marshal(e)
	if !strings.Contains(string(b), `"time_source":"commit"`) || !strings.Contains(string(b), `"commit_time":"`) {
		t.Fatalf("%s", b)
	}
	got, err := DecodeJSON(b)
	if err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	for kind, want := range map[Kind]TimeSource{KindTxCommitted: TimeBlock, KindNodeStarted: TimeNode} {
		if _, src := (&Entry{Kind: kind, Time: e.Time}).EventTime(); src != want {
			t.Errorf("%s: %s", kind, src)
		}
	}
	// The response to /audit/entries carries commit times; version 1 still decodes.
	resp := EntriesResponse{Head: ChainHead{Seq: 1, Hash: e.Hash}, Entries: []Entry{e}}
	if got, err := DecodeEntriesResponse(resp.Encode()); err != nil || !reflect.DeepEqual(got, resp) {
		t.Fatalf("entries response: %+v %v", got, err)
	}
	v1 := append([]byte{1, 1, byte(len(e.Hash))}, e.Hash...)
	v1 = appendBytes(append(v1, 1), e.Encode())
	if got, err := DecodeEntriesResponse(v1); err != nil || len(got.Entries) != 1 || !got.Entries[0].CommitTime.IsZero() {
		t.Fatalf("version 1: %+v %v", got, err)
	}
}

func entrySeq(es []Entry, err error) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		for _, e := range es {
			if !yield(e, nil) {
				return
			}
		}
		if err != nil {
			yield(Entry{}, err)
		}
	}
}

// TestCheckStored: a stored chain must match its head and the app hash.
func TestCheckStored(t *testing.T) {
	es := chained(8)
	state := []byte("state")
	hr := HeadResponse{Height: 4, StateHash: state, Head: ChainHead{Seq: 8, Hash: es[7].Hash}}
	if err := CheckStored(entrySeq(es, nil), hr, hr.AppHash()); err != nil {
		t.Fatal(err)
	}
	// Entries past the head (a block not yet committed in full) are ignored.
	if err := CheckStored(entrySeq(chained(9), nil), hr, hr.AppHash()); err != nil {
		t.Fatal(err)
	}
	if err := CheckStored(entrySeq(es, nil), hr, []byte("other")); !errors.Is(err, ErrStoreMismatch) {
		t.Fatalf("app hash: %v", err)
	}
	bad := append([]Entry(nil), es...)
	bad[3].Message = "edited"
	if err := CheckStored(entrySeq(bad, nil), hr, hr.AppHash()); !errors.Is(err, ErrStoreMismatch) || !errors.Is(err, ErrHash) {
		t.Fatalf("edited: %v", err)
	}
	gap := append(append([]Entry(nil), es[:3]...), es[4:]...)
	if err := CheckStored(entrySeq(gap, nil), hr, hr.AppHash()); !errors.Is(err, ErrStoreMismatch) || !errors.Is(err, ErrGap) {
		t.Fatalf("deleted: %v", err)
	}
	if err := CheckStored(entrySeq(es[:6], nil), hr, hr.AppHash()); !errors.Is(err, ErrStoreMismatch) {
		t.Fatalf("short: %v", err)
	}
	if err := CheckStored(entrySeq(es[:2], ErrDecode), hr, hr.AppHash()); !errors.Is(err, ErrStoreMismatch) {
		t.Fatalf("undecodable: %v", err)
	}
	if err := CheckStored(entrySeq(es[:2], ErrSourceDown), hr, hr.AppHash()); errors.Is(err, ErrStoreMismatch) || !errors.Is(err, ErrSourceDown) {
		t.Fatalf("read error: %v", err)
	}
}

// FuzzDecodeJSON: the strict JSON reader never panics, and what it accepts
// marshals back to a line it accepts as the same entry.
func FuzzDecodeJSON(f *testing.F) {
	for _, e := range chained(3) {
		b, _ := json.Marshal(e)
		f.Add(b)
	}
	e := chained(1)[0]
	e.CommitTime = e.Time.Add(time.Minute)
	b, _ := json.Marshal(e)
	f.Add(b)
	f.Add([]byte(`{"seq":1,"height":0,"tx_index":0,"time":"","kind":"x","resources":[],"code":0,"hash":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeJSON(data)
		if err != nil {
			return
		}
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		e2, err := DecodeJSON(b)
		if err != nil || !reflect.DeepEqual(e, e2) {
			t.Fatalf("%s -> %s: %v", data, b, err)
		}
	})
}
