package main

import (
	"strings"
	"testing"
	"time"
)

func TestParseGtxFile(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	b, err := parseGtxFile([]byte(`{"gid": "c1", "mode": "tcc", "deadline": "2027-01-15T10:00:00Z",
	  "branches": [{"participant": "p", "try": {"hold": [1, 2]}, "confirm": "ok", "cancel": null}]}`), now)
	if err != nil {
		t.Fatal(err)
	}
	br := b.Branches[0]
	if string(br.Try) != `{"hold":[1,2]}` || string(br.Confirm) != "ok" || br.Cancel != nil || b.DeadlineUnixMs != time.Date(2027, 1, 15, 10, 0, 0, 0, time.UTC).UnixMilli() {
		t.Fatalf("parsed %+v", b)
	}
	if b, err := parseGtxFile([]byte(`{"gid": "s", "mode": "saga", "deadline": "90s"}`), now); err != nil || b.DeadlineUnixMs != now.Add(90*time.Second).UnixMilli() {
		t.Fatalf("relative deadline: %+v %v", b, err)
	}
	for _, bad := range []struct{ file, want string }{
		{`{"gid": "s", "mode": "2pc", "deadline": "1s"}`, "mode"},
		{`{"gid": "s", "mode": "saga", "deadline": "soon"}`, "deadline"},
		{`{"gid": "s", "mode": "saga", "deadline": "1s", "extra": 1}`, "unknown field"},
	} {
		if _, err := parseGtxFile([]byte(bad.file), now); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want an error about %s", bad.file, err, bad.want)
		}
	}
}
