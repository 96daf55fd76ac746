package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	cmtcfg "github.com/cometbft/cometbft/config"
	sm "github.com/cometbft/cometbft/state"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/transport/client"
)

// timeFormats are the SIEM formats the idle test ships through file sinks,
// each with how to read the record's timestamp and its clock marker.
var timeFormats = map[string]struct {
	stamp func(t *testing.T, rec string) time.Time
	clock string // the marker that says the time is the commit time
}{
	"json":    {func(t *testing.T, r string) time.Time { return jsonTime(t, r, "commit_time") }, `"time_source":"commit"`},
	"ecs":     {func(t *testing.T, r string) time.Time { return jsonTime(t, r, "@timestamp") }, `"time_source":"commit"`},
	"ocsf":    {func(t *testing.T, r string) time.Time { return time.UnixMilli(int64(jsonNumber(t, r, "time"))) }, `"time_source":"commit"`},
	"hec":     {hecTime, `"time_source":"commit"`},
	"rfc5424": {func(t *testing.T, r string) time.Time { return parseTime(t, strings.Fields(r)[1]) }, `timeSource="commit"`},
	"cef":     {func(t *testing.T, r string) time.Time { return time.UnixMilli(int64(reNumber(t, r, `rt=(\d+)`))) }, `flexString1=commit`},
	"leef": {func(t *testing.T, r string) time.Time {
		return parseTime(t, regexp.MustCompile(`devTime=([^\t]+)`).FindStringSubmatch(r)[1])
	}, "timeSource=commit"},
}

// TestAuditTimeAfterIdle: a tx submitted after 60 s without blocks gets an
// audit time within 1 s of its commit as the client saw it, in every SIEM
// format the sinks ship and in the CLI's export and tail, with the marker
// that the time is the commit time. The hashed block time of the same
// entry is the commit before the idle spell, a minute older. The test
// also logs how long after the client saw the commit each sink had the
// entry (docs/AUDIT.md, "Time").
func TestAuditTimeAfterIdle(t *testing.T) {
	t.Parallel()
	n := newDevNode(t)
	n.start()
	n.stop()
	var conf strings.Builder
	for f := range timeFormats {
		fmt.Fprintf(&conf, "[[sink]]\nname = %q\ntype = \"file\"\nformat = %q\npath = \"data/audit/export/%s.log\"\npoll_interval = \"20ms\"\n\n", f, f, f)
	}
	if err := os.WriteFile(filepath.Join(n.home, "config", "audit.toml"), []byte(conf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	n.start()
	if _, errs, code := n.cli("", "tx", "put", "before-idle", "v"); code != 0 {
		t.Fatalf("tx put: %s", errs)
	}
	// The idle spell: with create_empty_blocks = false no block is made.
	idle := time.NewTimer(60 * time.Second)
	<-idle.C
	// The client: the Go SDK through the REST gateway, in this process, so
	// the time it sees the commit is not blurred by a CLI process's start
	// and exit.
	c, err := client.NewREST("http://" + n.rest)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tx, err := c.Sign(ctx, putBody("after-idle", "v"), devSigner(t, n.home))
	if err != nil {
		t.Fatal(err)
	}
	submitted := time.Now()
	if _, err := c.BroadcastCommit(ctx, tx); err != nil {
		t.Fatal(err)
	}
	committed := time.Now() // the client has the commit
	within := func(what string, got time.Time) {
		t.Helper()
		if got.Before(submitted.Add(-time.Millisecond)) || got.After(committed) || committed.Sub(got) >= time.Second {
			t.Errorf("%s: time %s; submitted %s, commit seen %s", what, got.Format(time.RFC3339Nano),
				submitted.Format(time.RFC3339Nano), committed.Format(time.RFC3339Nano))
		}
	}
	recs := sinkRecords(t, n.home, "after-idle", committed)
	for f, tf := range timeFormats {
		within("sink "+f, tf.stamp(t, recs[f]))
		if !strings.Contains(recs[f], tf.clock) {
			t.Errorf("sink %s: no %s in %s", f, tf.clock, recs[f])
		}
	}
	out, errs, code := n.cli("", "audit", "export", "--format", "json")
	if code != 0 {
		t.Fatalf("export: %s", errs)
	}
	var e audit.Entry
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(l, "after-idle") {
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatal(err)
			}
		}
	}
	at, clock := e.EventTime()
	within("CLI export", at)
	if clock != audit.TimeCommit || e.CommitTime.Sub(e.Time) < 59*time.Second {
		t.Fatalf("exported entry: %s time %s, commit time %s: want the commit time, a minute after the stale block time", clock, e.Time, e.CommitTime)
	}
	t.Logf("block time %s, commit time %s, client saw the commit at %s",
		e.Time.Format(time.RFC3339Nano), e.CommitTime.Format(time.RFC3339Nano), committed.UTC().Format(time.RFC3339Nano))
	out, _, _ = n.cli("", "audit", "export", "--format", "rfc5424", "--from", strconv.FormatUint(e.Seq, 10), "--to", strconv.FormatUint(e.Seq, 10))
	within("CLI export rfc5424", timeFormats["rfc5424"].stamp(t, out))
	out, _, _ = n.cli("", "audit", "tail", "-n", "1", "--follow=false")
	within("CLI tail", parseTime(t, strings.Fields(out)[2]))
}

// sinkRecords waits until every timeFormats sink has written the record
// that mentions key and returns them; it logs how long after committed
// each sink had it.
func sinkRecords(t *testing.T, home, key string, committed time.Time) map[string]string {
	t.Helper()
	recs := map[string]string{}
	waitFor(t, 30*time.Second, func() bool {
		for f := range timeFormats {
			if recs[f] != "" {
				continue
			}
			for _, l := range readLines(t, filepath.Join(home, "data", "audit", "export", f+".log")) {
				if strings.Contains(l, key) {
					recs[f] = l
					t.Logf("sink %s had the entry %s after the client saw the commit", f, time.Since(committed).Round(time.Millisecond))
				}
			}
		}
		return len(recs) == len(timeFormats)
	})
	return recs
}

func jsonField(t *testing.T, rec, field string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(rec), &m); err != nil {
		t.Fatalf("%v: %s", err, rec)
	}
	return m[field]
}

func jsonTime(t *testing.T, rec, field string) time.Time {
	t.Helper()
	s, _ := jsonField(t, rec, field).(string)
	return parseTime(t, s)
}

func jsonNumber(t *testing.T, rec, field string) float64 {
	t.Helper()
	f, ok := jsonField(t, rec, field).(float64)
	if !ok {
		t.Fatalf("no number %s in %s", field, rec)
	}
	return f
}

// hecTime reads HEC's "time": seconds with 6 decimals, exactly.
func hecTime(t *testing.T, rec string) time.Time {
	t.Helper()
	s := reString(t, rec, `"time":(\d+\.\d{6})`)
	sec, frac, _ := strings.Cut(s, ".")
	si, _ := strconv.ParseInt(sec, 10, 64)
	us, _ := strconv.ParseInt(frac, 10, 64)
	return time.Unix(si, us*1000)
}

func reString(t *testing.T, rec, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(rec)
	if m == nil {
		t.Fatalf("no %s in %s", re, rec)
	}
	return m[1]
}

func reNumber(t *testing.T, rec, re string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(reString(t, rec, re), 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func parseTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("time %q: %v", s, err)
	}
	return v
}

// TestStartRefusesTamperedAudit: a stopped node whose stores disagree
// refuses `dstt start` with exit code 5 before it serves anything: first
// CometBFT's state holding another app hash than the app's store (as when
// the store was rewritten consistently up to its own app hash), then an
// audit entry edited in the app's Pebble store (the first bad seq named).
func TestStartRefusesTamperedAudit(t *testing.T) {
	t.Parallel()
	n := newDevNode(t)
	n.start()
	for i := range 3 {
		if _, errs, code := n.cli("", "tx", "put", fmt.Sprintf("key-%d", i), "v"); code != 0 {
			t.Fatalf("tx put: %s", errs)
		}
	}
	out, errs, code := n.cli("", "audit", "export", "--format", "json", "--from", "2", "--to", "2")
	var e audit.Entry
	if code != 0 || json.Unmarshal([]byte(out), &e) != nil || e.Seq != 2 {
		t.Fatalf("export seq 2: %q %s", out, errs)
	}
	n.stop()

	restore := editCometAppHash(t, n.home)
	refusedStart(t, n, "does not match the last committed app hash", "CometBFT committed", "does not start")
	restore()

	orig := e.Encode()
	e.Resources = []string{"key-9"} // same length: the stored encoding stays well formed
	if found := replaceInPebble(t, filepath.Join(n.home, "data", "app"), orig, e.Encode()); found != 1 {
		t.Fatalf("tamper: %d values changed", found)
	}
	refusedStart(t, n, "does not match the last committed app hash", "first bad entry is seq 2", "does not start")
}

// refusedStart runs `dstt start` and expects exit code 5 and output
// holding every want.
func refusedStart(t *testing.T, n *devNode, want ...string) {
	t.Helper()
	cmd := n.command()
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	err := cmd.Run()
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != exitAuditMismatch {
		t.Fatalf("start on a tampered store: %v\n%s", err, logs.String())
	}
	t.Logf("refused start (exit %d):\n%s", cmd.ProcessState.ExitCode(), logs.String())
	for _, w := range want {
		if !strings.Contains(logs.String(), w) {
			t.Errorf("start output lacks %q:\n%s", w, logs.String())
		}
	}
}

// editCometAppHash changes the app hash in CometBFT's state store of a
// stopped node; the returned func puts the original back.
func editCometAppHash(t *testing.T, home string) func() {
	t.Helper()
	h, err := consensus.OpenHome(home)
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.Config()
	if err != nil {
		t.Fatal(err)
	}
	save := func(edit func(*sm.State)) {
		db, err := cmtcfg.DefaultDBProvider(&cmtcfg.DBContext{ID: "state", Config: c})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		store := sm.NewStore(db, sm.StoreOptions{})
		st, err := store.Load()
		if err != nil {
			t.Fatal(err)
		}
		edit(&st)
		if err := store.Save(st); err != nil {
			t.Fatal(err)
		}
	}
	var orig []byte
	save(func(st *sm.State) {
		orig = append([]byte(nil), st.AppHash...)
		st.AppHash = bytes.Repeat([]byte{0xAA}, len(orig))
	})
	return func() { save(func(st *sm.State) { st.AppHash = orig }) }
}

// replaceInPebble replaces old with new in every value of the Pebble
// database in dir that holds old, and returns how many it changed.
func replaceInPebble(t *testing.T, dir string, old, new []byte) int {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: quietPebble{}})
	if err != nil {
		t.Fatal(err)
	}
	it, err := db.NewIter(nil)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for it.First(); it.Valid(); it.Next() {
		if v := it.Value(); bytes.Contains(v, old) {
			if err := db.Set(append([]byte(nil), it.Key()...), bytes.Replace(v, old, new, 1), pebble.Sync); err != nil {
				t.Fatal(err)
			}
			found++
		}
	}
	if err := errors.Join(it.Close(), db.Close()); err != nil {
		t.Fatal(err)
	}
	return found
}

// quietPebble keeps Pebble's informational messages out of the test log.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any)           {}
func (quietPebble) Errorf(format string, a ...any) { fmt.Fprintf(os.Stderr, format+"\n", a...) }
func (quietPebble) Fatalf(format string, a ...any) { panic(fmt.Sprintf(format, a...)) }
