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
	req, err := parseEventsRequest(r)
	if err != nil {
		badParam(w, r, "%v", err)
		return
	}
	if !g.authorize(w, r, ReadRequest{Kind: ReadEvents, Key: req.prefix}) {
		return
	}
	auth, ok := g.authorizeStream(w, r, req.prefix)
	if !ok {
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeProblem(w, r, api.NewProblem(api.ProblemInternal, "this connection cannot stream"))
		return
	}
	release, ok := g.admitStream(w, r)
	if !ok {
		return
	}
	defer release()

	s, last := g.hub.subscribe(g.cfg.EventBuffer)
	defer g.hub.unsubscribe(s)

	start, after := req.start(last)
	es := &eventWriter{
		w: startEventStream(w, req.prefix), flusher: flusher, ctx: r.Context(),
		prefix: req.prefix, after: after, scanned: start - 1, auth: auth, checker: g.checker,
	}
	if !es.flush() || !g.replayStored(r.Context(), es, start, last) {
		return
	}
	// After stored blocks, a checkpoint: the client knows it has caught up.
	if start <= last && !es.keepAlive() {
		return
	}
	g.streamLive(r.Context(), es, s)
}

// eventsRequest is a parsed GET /v1/events.
type eventsRequest struct {
	prefix     string
	after      *api.EventID // Last-Event-ID or ?after=: resume after this event
	fromHeight int64        // ?from_height=, when haveFrom
	haveFrom   bool
}

// parseEventsRequest reads the stream's prefix and resume point from r
// (the Last-Event-ID header wins over ?after=).
func parseEventsRequest(r *http.Request) (eventsRequest, error) {
	q := r.URL.Query()
	req := eventsRequest{prefix: q.Get("prefix")}
	idText := r.Header.Get("Last-Event-ID")
	if idText == "" {
		idText = q.Get("after")
	}
	if idText != "" {
		id, err := api.ParseEventID(idText)
		if err != nil {
			return req, fmt.Errorf("resume point %q: %v", idText, err)
		}
		req.after = &id
	}
	var err error
	req.fromHeight, req.haveFrom, err = queryInt(r, "from_height")
	return req, err
}

// start is the first height the stream sends, given the last height the hub
// dispatched, and the resume point its events are filtered by (nil: none).
// A ?from_height= start resumes after the checkpoint of the height before.
func (q eventsRequest) start(last int64) (int64, *api.EventID) {
	switch {
	case q.after != nil:
		return max(q.after.Height, 1), q.after
	case q.haveFrom:
		start := max(q.fromHeight, 1)
		if start > 1 {
			cp := api.Checkpoint(start - 1)
			return start, &cp
		}
		return start, nil
	}
	return last + 1, nil
}

// admitStream counts a new event stream against MaxEventStreams, refusing
// it (TOO_MANY_STREAMS) when the gateway serves that many already. When it
// is admitted the caller must call release once the stream ends.
func (g *Gateway) admitStream(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	if n := g.streams.Add(1); g.cfg.MaxEventStreams > 0 && n > int64(g.cfg.MaxEventStreams) {
		g.streams.Add(-1)
		p := api.NewProblem(api.ProblemTooManyStreams, fmt.Sprintf("the gateway serves at most %d event streams; retry later", g.cfg.MaxEventStreams))
		p.RetryAfterSeconds = 5
		writeProblem(w, r, p)
		return nil, false
	}
	g.metrics.streams.Inc()
	return func() {
		g.metrics.streams.Dec()
		g.streams.Add(-1)
	}, true
}

// startEventStream sends the 200 response header of an event stream and
// buffers its opening comment; it returns the buffered writer over w.
func startEventStream(w http.ResponseWriter, prefix string) *bufio.Writer {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 32<<10)
	fmt.Fprintf(bw, ": dstt committed writes, prefix %q\nretry: 1000\n\n", prefix)
	return bw
}

// replayStored sends blocks from..to, read from the node's store. It
// reports whether the stream may go on.
func (g *Gateway) replayStored(ctx context.Context, es *eventWriter, from, to int64) bool {
	for height := from; height <= to; height++ {
		select {
		case <-ctx.Done():
			return false
		case <-g.closing:
			return false
		default:
		}
		b, err := g.backend.LoadBlock(ctx, height)
		if err != nil {
			es.abort(api.NewProblem(api.ProblemNotReady, fmt.Sprintf("cannot read block %d from the node's store to resume the stream: %v", height, err)))
			return false
		}
		if !es.send(blockWrites{height: b.Height, epoch: g.hub.policyEpoch(), evs: api.BlockWrites(b.Height, b.Time, b.Txs, b.Results)}) {
			return false
		}
	}
	return true
}

// streamLive sends the hub's blocks as they commit, with a keep-alive every
// EventKeepAlive, until the client leaves, the gateway closes or the hub
// drops the stream (then, if it lagged, the client is told where to resume).
func (g *Gateway) streamLive(ctx context.Context, es *eventWriter, s *stream) {
	keep := time.NewTicker(g.cfg.EventKeepAlive)
	defer keep.Stop()
	for {
		select {
		case evs, ok := <-s.ch:
			if !ok {
				if s.lagged {
					p := api.NewProblem(api.ProblemEventsLagged, "this stream fell behind the chain; reconnect with the Last-Event-ID header to resume without a gap")
					p.LastEventID = es.resumeID()
					es.abort(p)
				}
				return
			}
			if !es.send(evs) {
				return
			}
		case <-keep.C:
			if !es.keepAlive() {
				return
			}
		case <-ctx.Done():
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
	flusher http.Flusher
	ctx     context.Context
	auth    streamAuth
	checker *policyChecker
	prefix  string
	after   *api.EventID
	lastID  string
	scanned int64 // every write up to this height has been considered
}

// flush sends what is buffered to the client; false when the connection
// failed.
func (e *eventWriter) flush() bool {
	if err := e.w.Flush(); err != nil {
		return false
	}
	e.flusher.Flush()
	return true
}

// send writes b's events and flushes them. A failure to write ends the
// stream with an error event; it reports whether the stream may go on.
func (e *eventWriter) send(b blockWrites) bool {
	if err := e.write(b); err != nil {
		e.abort(api.NewProblem(api.ProblemNotReady, err.Error()))
		return false
	}
	return e.flush()
}

// keepAlive sends a comment so that proxies keep the connection open. The
// checkpoint id before it moves the client's Last-Event-ID past blocks that
// had nothing for it, so a resume starts here.
func (e *eventWriter) keepAlive() bool {
	if id := e.resumeID(); id != "" {
		fmt.Fprintf(e.w, "id: %s\n", id)
	}
	if _, err := e.w.WriteString(": keep-alive\n\n"); err != nil {
		return false
	}
	return e.flush()
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

// abort sends p as the stream's last event, an "error" one.
func (e *eventWriter) abort(p *api.Problem) {
	data, _ := json.Marshal(p)
	fmt.Fprintf(e.w, "event: %s\ndata: %s\n\n", api.EventError, data)
	e.flush()
}
