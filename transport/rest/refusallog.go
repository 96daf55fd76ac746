package rest

import (
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/time/rate"

	"github.com/dstt/dstt/audit"
)

// Bounds of what outside clients can make the gateway write to the node's
// security log (refusalLog).
const (
	// refusalWindow is how long refusals of one kind from one client are
	// counted before one summary entry records how many there were.
	refusalWindow = time.Minute
	// refusalMaxClients bounds the (client network, refusal) pairs tracked
	// at once; a refusal of a new pair beyond it goes to the overflow
	// group of its kind, action and code (untrackedNetwork) and is counted
	// in dstt_rest_refusals_unrecorded_total{reason="clients"}.
	refusalMaxClients = 4096
	// refusalRate and refusalBurst bound the first-refusal entries written
	// per second, all clients together; one over it is not written in full
	// but counted in its pair's summary.
	refusalRate  = 10
	refusalBurst = 100
	// refusalMaxText bounds each text a refusal entry carries that its
	// client chose (message, each resource).
	refusalMaxText = 1024
)

// refusalLog records, in the node's security log, what the gateway and
// the application refuse outside clients, bounded so that no client can
// grow the log without limit however fast it sends:
//
//   - refusals are grouped by client network (an IPv4 address, or an IPv6
//     /64, which one host typically holds whole; by the actor for an entry
//     without an endpoint, such as a CheckTx refusal), entry kind, action
//     and code;
//   - the first refusal of a group is recorded in full (with its tx hash,
//     actor and endpoint), subject to an overall rate (refusalRate);
//   - every further one in the window is only counted; at the end of the
//     window one summary entry (same kind, action and code, no tx hash,
//     resources ["count:N"]) says how many there were. A group with
//     nothing in a window is forgotten, so its next refusal is recorded
//     in full again;
//   - at most refusalMaxClients groups are tracked; refusals of new groups
//     beyond that go to one overflow group per kind, action and code
//     (untrackedNetwork), recorded like any group, and are counted in
//     dstt_rest_refusals_unrecorded_total;
//   - the texts a refusal carries that its client chose (message,
//     resources: a refused read's key) are cut to refusalMaxText bytes.
//
// So the log grows by at most refusalRate entries a second plus
// refusalMaxClients summaries (and the few overflow ones) a window. Safe
// for concurrent use.
type refusalLog struct {
	log        SecurityLog
	now        func() time.Time
	window     time.Duration
	maxClients int
	limiter    *rate.Limiter
	unrecorded func(reason string) // counts refusals that no entry records

	mu        sync.Mutex
	groups    map[refusalKey]*refusalGroup
	untracked int // groups of untrackedNetwork in groups (outside maxClients)
}

// untrackedNetwork is the network of the overflow groups: the refusals of
// clients beyond maxClients, one group per kind, action and code (a set
// the code fixes, so the overflow groups stay few), so that filling the
// table hides nobody's refusals from the log.
const untrackedNetwork = "(clients beyond the tracked ones)"

// refusalKey is one group of refusals.
type refusalKey struct {
	network string // the client's IPv4 address or IPv6 /64; "actor:ACTOR" without an endpoint
	kind    audit.Kind
	action  string
	code    uint32
}

// refusalGroup is what the window has seen of one group so far.
type refusalGroup struct {
	first    audit.Fields // the group's first refusal
	recorded bool         // first was recorded in full (the rate allowed it)
	since    time.Time    // start of the window
	n        int          // refusals counted since, not recorded in full
}

func newRefusalLog(log SecurityLog, unrecorded func(string)) *refusalLog {
	return &refusalLog{
		log: log, now: time.Now, window: refusalWindow, maxClients: refusalMaxClients,
		limiter: rate.NewLimiter(refusalRate, refusalBurst), unrecorded: unrecorded,
		groups: make(map[refusalKey]*refusalGroup),
	}
}

// clientNetwork is the network a client address counts as, wherever the
// gateway bounds what one client may do (connection caps, the rate limit,
// the refusal log): the address for IPv4 (also IPv4-mapped), its /64 for
// IPv6, which one host typically holds whole, the text as given when it is
// no IP address.
func clientNetwork(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil {
		return addr
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return (&net.IPNet{IP: ip.Mask(net.CIDRMask(64, 128)), Mask: net.CIDRMask(64, 128)}).String()
}

// record records one refusal (f.Endpoint is the client's address): in full
// when it is the first of its group in the window and the overall rate
// allows, else counted for the group's summary.
func (l *refusalLog) record(kind audit.Kind, f audit.Fields) {
	if l == nil {
		return
	}
	now := l.now()
	k := refusalKey{network: clientNetwork(f.Endpoint), kind: kind, action: f.Action, code: f.Code}
	if f.Endpoint == "" { // a refusal by the application of a tx, whose sender it does not know
		k.network = "actor:" + f.Actor
	}
	f = boundText(f)
	l.mu.Lock()
	g := l.groups[k]
	overflow := g == nil && len(l.groups)-l.untracked >= l.maxClients
	if overflow {
		k.network = untrackedNetwork
		g = l.groups[k]
	}
	if overflow {
		defer l.unrecorded("clients") // after the unlock below
	}
	if g != nil {
		g.n++
		l.mu.Unlock()
		return
	}
	if overflow {
		l.untracked++
	}
	g = &refusalGroup{first: f, since: now}
	l.groups[k] = g
	full := l.limiter.AllowN(now, 1)
	g.recorded = full
	if !full {
		g.n++
	}
	l.mu.Unlock()
	if full {
		_ = l.log.Record(kind, f)
	}
}

// boundText cuts f's message and resources, which the refused client
// chose (a read's key), to refusalMaxText bytes each.
func boundText(f audit.Fields) audit.Fields {
	f.Message = cutText(f.Message)
	if len(f.Resources) > 0 {
		rs := make([]string, len(f.Resources))
		for i, r := range f.Resources {
			rs[i] = cutText(r)
		}
		f.Resources = rs
	}
	return f
}

// cutText is s when it fits in refusalMaxText bytes, else its start (whole
// UTF-8 sequences) followed by a note of its full length.
func cutText(s string) string {
	if len(s) <= refusalMaxText {
		return s
	}
	note := fmt.Sprintf("... (cut: %d bytes)", len(s))
	n := refusalMaxText - len(note)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + note
}

// flush ends the window of every group whose window has passed at now:
// a group that counted refusals gets its summary entry and a new window,
// one that counted none is forgotten. all ends every window (at shutdown).
func (l *refusalLog) flush(all bool) {
	if l == nil {
		return
	}
	now := l.now()
	type summary struct {
		k refusalKey
		g refusalGroup
	}
	var out []summary
	l.mu.Lock()
	for k, g := range l.groups {
		if !all && now.Sub(g.since) < l.window {
			continue
		}
		if g.n == 0 {
			delete(l.groups, k)
			if k.network == untrackedNetwork {
				l.untracked--
			}
			continue
		}
		out = append(out, summary{k, *g})
		g.n, g.since = 0, now
	}
	l.mu.Unlock()
	for _, s := range out {
		_ = l.log.Record(s.k.kind, summaryFields(s.k, s.g, now))
	}
}

// summaryFields is the entry that says how many refusals of group k were
// counted, not recorded in full, from g.since to now.
func summaryFields(k refusalKey, g refusalGroup, now time.Time) audit.Fields {
	f := g.first
	first := "the first was recorded in full"
	if !g.recorded {
		first = "the first is among them (over the log's rate, it was not recorded in full)"
	}
	from, actor, endpoint := "client network "+k.network, f.Actor, f.Endpoint
	if k.network == untrackedNetwork { // many clients: the entry names none
		from = fmt.Sprintf("clients beyond the %d refusal groups tracked at once (the first was %q from %q)", refusalMaxClients, f.Actor, f.Endpoint)
		actor, endpoint = "", ""
	}
	return audit.Fields{
		Actor: actor, Endpoint: endpoint, Action: f.Action, Code: f.Code, CodeName: f.CodeName,
		Resources: []string{"count:" + strconv.Itoa(g.n)},
		Message: fmt.Sprintf("%d %s refusals (%s) from %s between %s and %s counted, not recorded one by one, to bound the log; %s",
			g.n, f.Action, f.CodeName, from, g.since.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), first),
	}
}

// run ends windows every window/4 until stop is closed (whoever closes
// it calls flush(true) to end the rest).
func (l *refusalLog) run(stop <-chan struct{}) {
	t := time.NewTicker(l.window / 4)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			l.flush(false)
		case <-stop:
			return
		}
	}
}

// RefusalRecorder records refusals of outside clients in a security log
// within refusalLog's bounds, ending windows on its own timer. The gateway
// records through one; a node without a gateway records the application's
// refusals (CheckTx, queries) through one too. Safe for concurrent use.
type RefusalRecorder struct {
	log    SecurityLog
	l      *refusalLog
	once   sync.Once // starts the window timer
	stop   chan struct{}
	closed atomic.Bool
}

// NewRefusalRecorder records in log; unrecorded (may be nil) counts the
// refusals beyond the tracked groups, by reason.
func NewRefusalRecorder(log SecurityLog, unrecorded func(reason string)) *RefusalRecorder {
	if unrecorded == nil {
		unrecorded = func(string) {}
	}
	return &RefusalRecorder{log: log, l: newRefusalLog(log, unrecorded), stop: make(chan struct{})}
}

// Record records one refusal (f.Endpoint is the client's address, "" when
// unknown: then it is grouped by f.Actor). After Close it records each.
func (r *RefusalRecorder) Record(kind audit.Kind, f audit.Fields) {
	if r.closed.Load() { // Close wrote the summaries: nothing would flush more
		_ = r.log.Record(kind, f)
		return
	}
	r.once.Do(func() { go r.l.run(r.stop) })
	r.l.record(kind, f)
}

// Close stops the timer and writes the summaries of what was counted.
// Idempotent.
func (r *RefusalRecorder) Close() {
	if r.closed.Swap(true) {
		return
	}
	r.once.Do(func() {}) // never start the timer after this
	close(r.stop)
	r.l.flush(true)
}
