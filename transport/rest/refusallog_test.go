package rest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/types"
)

// memSecurityLog keeps what is recorded.
type memSecurityLog struct {
	mu   sync.Mutex
	ents []audit.Entry
}

func (m *memSecurityLog) Record(kind audit.Kind, f audit.Fields) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ents = append(m.ents, audit.Entry{Kind: kind, Actor: f.Actor, Endpoint: f.Endpoint, Action: f.Action,
		Resources: f.Resources, Code: f.Code, CodeName: f.CodeName, Message: f.Message, TxHash: f.TxHash})
	return nil
}

func (m *memSecurityLog) take() []audit.Entry {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.ents
	m.ents = nil
	return out
}

func badSig(ip string, i int) audit.Fields {
	return audit.Fields{Actor: "ip:" + ip, Endpoint: ip, Action: "submit", Code: uint32(types.CodeBadSignature),
		CodeName: types.CodeBadSignature.Name(), TxHash: []byte{byte(i), byte(i >> 8)}}
}

// A flood of refusals from one client leaves its first refusal and one
// summary per window; a quiet window forgets the client; IPv6 clients are
// grouped by /64; the caps on clients and on the rate hold, and what they
// leave out is counted.
func TestRefusalLogBounds(t *testing.T) {
	mem := &memSecurityLog{}
	unrecorded := map[string]int{}
	l := newRefusalLog(mem, func(r string) { unrecorded[r]++ })
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }

	for i := range 10_000 {
		l.record(audit.KindCheckTxRejected, badSig("192.0.2.7", i))
	}
	l.flush(false) // the window has not passed
	if got := mem.take(); len(got) != 1 || got[0].Endpoint != "192.0.2.7" || got[0].TxHash[0] != 0 || got[0].Resources != nil {
		t.Fatalf("after 10,000 refusals: %+v", got)
	}
	now = now.Add(refusalWindow)
	l.flush(false)
	got := mem.take()
	if len(got) != 1 || !slices.Equal(got[0].Resources, []string{"count:9999"}) || got[0].CodeName != "BAD_SIGNATURE" ||
		got[0].Endpoint != "192.0.2.7" || got[0].TxHash != nil || !strings.Contains(got[0].Message, "recorded in full") {
		t.Fatalf("summary: %+v", got)
	}
	now = now.Add(refusalWindow)
	l.flush(false) // a quiet window: forgotten, nothing written
	if got := mem.take(); len(got) != 0 {
		t.Fatalf("a quiet window wrote %+v", got)
	}
	l.record(audit.KindCheckTxRejected, badSig("192.0.2.7", 1))
	if got := mem.take(); len(got) != 1 || got[0].Resources != nil {
		t.Fatalf("after a quiet window the next refusal is recorded in full: %+v", got)
	}

	// One /64, two hosts: one group. Another /64: its own.
	l.record(audit.KindCheckTxRejected, badSig("2001:db8:1:2::a", 1))
	l.record(audit.KindCheckTxRejected, badSig("2001:db8:1:2:ffff::b", 2))
	l.record(audit.KindCheckTxRejected, badSig("2001:db8:1:3::a", 3))
	if got := mem.take(); len(got) != 2 || got[0].Endpoint != "2001:db8:1:2::a" || got[1].Endpoint != "2001:db8:1:3::a" {
		t.Fatalf("IPv6 grouping: %+v", got)
	}
	now = now.Add(refusalWindow)
	l.flush(false)
	got = mem.take()
	if len(got) != 1 || !slices.Equal(got[0].Resources, []string{"count:1"}) || !strings.Contains(got[0].Message, "2001:db8:1:2::/64") {
		t.Fatalf("IPv6 summary: %+v", got)
	}

	// Without an endpoint (the application's CheckTx refusals) a group is
	// an actor.
	for _, actor := range []string{"aa", "aa", "bb"} {
		l.record(audit.KindCheckTxRejected, audit.Fields{Actor: actor, Action: "check_tx", Code: 11, CodeName: "UNAUTHORIZED"})
	}
	if got := mem.take(); len(got) != 2 || got[0].Actor != "aa" || got[1].Actor != "bb" {
		t.Fatalf("grouping by actor: %+v", got)
	}

	// The client cap: new networks beyond it share the overflow group of
	// their refusal, and are counted.
	l.maxClients = len(l.groups) + 1
	l.record(audit.KindCheckTxRejected, badSig("198.51.100.1", 1))
	l.record(audit.KindCheckTxRejected, badSig("198.51.100.2", 1))
	l.record(audit.KindCheckTxRejected, badSig("198.51.100.3", 1))
	if got := mem.take(); len(got) != 2 || unrecorded["clients"] != 2 {
		t.Fatalf("client cap: %d entries, unrecorded %v", len(got), unrecorded)
	}

	// The rate: a first refusal over it is counted in its summary.
	l.maxClients = refusalMaxClients
	l.limiter = rate.NewLimiter(0, 0)
	l.record(audit.KindAuthFailed, audit.Fields{Actor: "ip:203.0.113.5", Endpoint: "203.0.113.5", Action: "tls_handshake", Code: 11, CodeName: "UNAUTHORIZED"})
	if got := mem.take(); len(got) != 0 {
		t.Fatalf("over the rate: %+v", got)
	}
	l.flush(true)
	got = mem.take()
	i := slices.IndexFunc(got, func(e audit.Entry) bool { return e.Kind == audit.KindAuthFailed })
	if i < 0 || !slices.Equal(got[i].Resources, []string{"count:1"}) || !strings.Contains(got[i].Message, "not recorded in full") {
		t.Fatalf("the summary of a refusal over the rate: %+v", got)
	}
}

func TestClientNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7": "192.0.2.7", "2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64", "::ffff:192.0.2.7": "192.0.2.7", "x": "x",
	} {
		if got := clientNetwork(in); got != want {
			t.Errorf("clientNetwork(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestRefusalLogBoundsEntrySize: what a refusal carries that its client
// chose (the key of a refused read in the resources and in the node's
// reason, up to the 64 KiB a request line may hold) is cut to
// refusalMaxText bytes (valid UTF-8, saying how long it was) in the node
// log and in what the log keeps for the summary, so neither the log nor
// the gateway's memory grows by the size of what outsiders send.
func TestRefusalLogBoundsEntrySize(t *testing.T) {
	mem := &memSecurityLog{}
	l := newRefusalLog(mem, func(string) {})
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	key := strings.Repeat("é", 32<<10) // 64 KiB, two bytes a rune
	msg := fmt.Sprintf("unauthorized: reading %q needs a signed query", key)
	for i := range 50 {
		ip := fmt.Sprintf("192.0.2.%d", i)
		for range 2 {
			l.record(audit.KindAuthFailed, audit.Fields{Actor: "", Endpoint: ip, Action: "query", Resources: []string{"/get", key},
				Code: uint32(types.CodeUnauthorized), CodeName: types.CodeUnauthorized.Name(),
				Message: msg})
		}
	}
	l.mu.Lock()
	for k, g := range l.groups {
		if n := len(g.first.Message) + len(strings.Join(g.first.Resources, "")); n > 3*refusalMaxText {
			t.Errorf("group %v keeps %d bytes of its first refusal", k, n)
		}
	}
	l.mu.Unlock()
	now = now.Add(refusalWindow)
	l.flush(false)
	got := mem.take()
	if len(got) != 100 {
		t.Fatalf("%d entries, want 50 first refusals and 50 summaries", len(got))
	}
	for _, e := range got {
		for _, s := range append([]string{e.Message}, e.Resources...) {
			if len(s) > refusalMaxText || !utf8.ValidString(s) {
				t.Fatalf("a recorded field of %d bytes (valid UTF-8: %v): %.80q", len(s), utf8.ValidString(s), s)
			}
		}
	}
	full := got[0]
	if !strings.Contains(full.Message, fmt.Sprintf("%d bytes", len(msg))) || !strings.Contains(full.Resources[1], fmt.Sprintf("%d bytes", len(key))) {
		t.Errorf("a cut field does not say how long it was: %q / %q", full.Message[len(full.Message)-80:], full.Resources[1][len(full.Resources[1])-80:])
	}
}

// TestRefusalLogCannotBeBlinded: one client fills the table of refusal
// groups (fresh keys, whose CheckTx refusals are grouped by actor) and
// keeps it full; the refusals of every other client still reach the node
// log, in one overflow summary per kind, action and code a window, and the
// overflow groups do not grow with the number of clients.
func TestRefusalLogCannotBeBlinded(t *testing.T) {
	mem := &memSecurityLog{}
	unrecorded := map[string]int{}
	l := newRefusalLog(mem, func(r string) { unrecorded[r]++ })
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l.now = func() time.Time { return now }
	l.maxClients = 50
	for i := range l.maxClients {
		l.record(audit.KindCheckTxRejected, audit.Fields{Actor: fmt.Sprintf("%040x", i), Action: "check_tx", Code: 11, CodeName: "UNAUTHORIZED"})
	}
	mem.take()
	for i := range 1000 { // another client's forged txs, from 1000 addresses
		l.record(audit.KindCheckTxRejected, badSig(fmt.Sprintf("198.51.%d.%d", i/256, i%256), i))
	}
	if len(l.groups) > l.maxClients+1 {
		t.Fatalf("%d groups tracked, cap %d", len(l.groups), l.maxClients)
	}
	now = now.Add(refusalWindow)
	l.flush(false)
	var counted int
	for _, e := range mem.take() {
		if e.CodeName == "BAD_SIGNATURE" {
			n := 0
			if len(e.Resources) == 1 {
				fmt.Sscanf(e.Resources[0], "count:%d", &n)
			}
			counted += max(n, 1)
			if n > 0 && !strings.Contains(e.Message, "beyond") {
				t.Errorf("the overflow summary does not say it is one: %q", e.Message)
			}
		}
	}
	if counted != 1000 || unrecorded["clients"] != 1000 {
		t.Fatalf("the node log accounts for %d of 1000 refusals of untracked clients (metric %v)", counted, unrecorded)
	}
}
