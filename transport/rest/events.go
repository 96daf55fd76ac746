package rest

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dstt/dstt/transport/api"
)

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// handleEvents streams committed writes whose key starts with ?prefix= as
// Server-Sent Events, in commit order. Where it starts:
//
//   - after the event named by the Last-Event-ID header or ?after= (a
//     resumed stream: blocks since then are read from the node's store);
//   - else at ?from_height= (from the store, then live);
//   - else with the next committed block.
//
// The stream never skips a write: a client that falls EventBuffer blocks
// behind gets an "error" event (EVENTS_LAGGED, with the last id sent) and
// the stream ends; it reconnects with Last-Event-ID and misses nothing.
func (g *Gateway) handleEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	prefix := q.Get("prefix")
	var after *api.EventID
	idText := r.Header.Get("Last-Event-ID")
	if idText == "" {
		idText = q.Get("after")
	}
	if idText != "" {
		id, err := api.ParseEventID(idText)
		if err != nil {
			badParam(w, r, "resume point %q: %v", idText, err)
			return
		}
		after = &id
	}
	fromHeight, haveFrom, err := queryInt(r, "from_height")
	if err != nil {
		badParam(w, r, "%v", err)
		return
	}
	if !g.authorize(w, r, ReadRequest{Kind: ReadEvents, Key: prefix}) {
		return
	}
	auth, ok := g.authorizeStream(w, r, prefix)
	if !ok {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeProblem(w, r, api.NewProblem(api.ProblemInternal, "this connection cannot stream"))
		return
	}
	if n := g.streams.Add(1); g.cfg.MaxEventStreams > 0 && n > int64(g.cfg.MaxEventStreams) {
		g.streams.Add(-1)
		p := api.NewProblem(api.ProblemTooManyStreams, fmt.Sprintf("the gateway serves at most %d event streams; retry later", g.cfg.MaxEventStreams))
		p.RetryAfterSeconds = 5
		writeProblem(w, r, p)
		return
	}
	defer g.streams.Add(-1)
	g.metrics.streams.Inc()
	defer g.metrics.streams.Dec()

	s, last := g.hub.subscribe(g.cfg.EventBuffer)
	defer g.hub.unsubscribe(s)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	es := &eventWriter{w: bw, prefix: prefix, after: after, auth: auth, checker: g.checker, ctx: r.Context()}
	fmt.Fprintf(bw, ": dstt committed writes, prefix %q\nretry: 1000\n\n", prefix)
	flush := func() bool {
		if err := bw.Flush(); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	if !flush() {
		return
	}

	start := last + 1
	switch {
	case after != nil:
		start = max(after.Height, 1)
	case haveFrom:
		start = max(fromHeight, 1)
		if start > 1 {
			cp := api.Checkpoint(start - 1)
			es.after = &cp
		}
	}
	es.scanned = start - 1
	for height := start; height <= last; height++ {
		select {
		case <-r.Context().Done():
			return
		case <-g.closing:
			return
		default:
		}
		b, err := g.backend.LoadBlock(r.Context(), height)
		if err != nil {
			es.fail(api.NewProblem(api.ProblemNotReady, fmt.Sprintf("cannot read block %d from the node's store to resume the stream: %v", height, err)))
			flush()
			return
		}
		bwr := blockWrites{height: b.Height, epoch: g.hub.policyEpoch(), evs: api.BlockWrites(b.Height, b.Time, b.Txs, b.Results)}
		if err := es.write(bwr); err != nil {
			es.fail(api.NewProblem(api.ProblemNotReady, err.Error()))
			flush()
			return
		}
		if !flush() {
			return
		}
	}

	keep := time.NewTicker(g.cfg.EventKeepAlive)
	defer keep.Stop()
	for {
		select {
		case evs, ok := <-s.ch:
			if !ok {
				if s.lagged {
					p := api.NewProblem(api.ProblemEventsLagged, "this stream fell behind the chain; reconnect with the Last-Event-ID header to resume without a gap")
					p.LastEventID = es.resumeID()
					es.fail(p)
					flush()
				}
				return
			}
			if err := es.write(evs); err != nil {
				es.fail(api.NewProblem(api.ProblemNotReady, err.Error()))
				flush()
				return
			}
			if !flush() {
				return
			}
		case <-keep.C:
			// The checkpoint id moves the client's Last-Event-ID past
			// blocks that had nothing for it, so a resume starts here.
			if id := es.resumeID(); id != "" {
				fmt.Fprintf(bw, "id: %s\n", id)
			}
			if _, err := bw.WriteString(": keep-alive\n\n"); err != nil || !flush() {
				return
			}
		case <-r.Context().Done():
			return
		case <-g.closing:
			return
		}
	}
}

// eventWriter writes write events in SSE framing, filtered by prefix and
// by the resume point.
type eventWriter struct {
	w       *bufio.Writer
	ctx     context.Context
	auth    streamAuth
	checker *policyChecker
	prefix  string
	after   *api.EventID
	lastID  string
	scanned int64 // every write up to this height has been considered
}

func (e *eventWriter) write(b blockWrites) error {
	for i := range b.evs {
		ev := &b.evs[i]
		if !strings.HasPrefix(ev.Key, e.prefix) {
			continue
		}
		if e.after != nil {
			id := api.EventID{Height: ev.Height, TxIndex: ev.TxIndex, Write: ev.WriteIndex}
			if !e.after.Less(id) {
				continue
			}
		}
		if e.auth.filter {
			ok, err := e.checker.canRead(e.ctx, b.epoch, e.auth.reader, ev.Key)
			if err != nil {
				return fmt.Errorf("checking read permission on %q: %v; reconnect with Last-Event-ID to resume", ev.Key, err)
			}
			if !ok {
				continue
			}
		}
		data, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(e.w, "id: %s\nevent: %s\ndata: %s\n\n", ev.ID, api.EventWrite, data); err != nil {
			return err
		}
		e.lastID = ev.ID
	}
	e.scanned = max(e.scanned, b.height)
	return nil
}

// resumeID is where a client resumes: after the last block scanned, the
// last event sent, or the point it asked to start after, whichever is
// latest ("" when none is known).
func (e *eventWriter) resumeID() string {
	var best *api.EventID
	consider := func(id api.EventID) {
		if best == nil || best.Less(id) {
			best = &id
		}
	}
	if e.scanned > 0 {
		consider(api.Checkpoint(e.scanned))
	}
	if id, err := api.ParseEventID(e.lastID); err == nil {
		consider(id)
	}
	if e.after != nil {
		consider(*e.after)
	}
	if best == nil {
		return ""
	}
	return best.String()
}

func (e *eventWriter) fail(p *api.Problem) {
	data, _ := json.Marshal(p)
	fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", api.EventError, data)
}
