package hectest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Request is an accepted event request, as a Script sees it.
type Request struct {
	Channel string
	AckID   uint64
	Events  []Event
}

// Fate is what happens to an accepted request.
type Fate struct {
	Lose  bool // never indexed, never acknowledged
	After int  // acknowledged at the (After+1)th query of its ackId
}

// Script decides a request's fate; nil indexes everything at once.
type Script func(Request) Fate

// Event is one indexed event.
type Event struct {
	Channel string
	AckID   uint64
	Seq     uint64 // fields.seq
	Hash    string // event.hash
	Raw     map[string]any
}

type pending struct {
	lose    bool
	after   int
	queries int
}

// Server is the stand-in; Start makes one.
type Server struct {
	*httptest.Server
	token string

	mu         sync.Mutex
	script     Script
	ackOff     bool
	busy       int
	channels   map[string]map[uint64]*pending
	next       map[string]uint64
	indexed    []Event
	posts      int
	ackQueries int
	maxQuery   int
	changed    chan struct{}
}

// Start serves a stand-in over HTTP on 127.0.0.1 that accepts token;
// Close it.
func Start(token string, script Script) *Server {
	s := newServer(token, script)
	s.Server = httptest.NewServer(s)
	return s
}

// StartTLS is Start over HTTPS (httptest's certificate: Certificate()).
func StartTLS(token string, script Script) *Server {
	s := newServer(token, script)
	s.Server = httptest.NewTLSServer(s)
	return s
}

func newServer(token string, script Script) *Server {
	return &Server{token: token, script: script, channels: map[string]map[uint64]*pending{},
		next: map[string]uint64{}, changed: make(chan struct{})}
}

// EventURL is the event endpoint's URL.
func (s *Server) EventURL() string { return s.URL + "/services/collector/event" }

// SetScript replaces the script for later requests.
func (s *Server) SetScript(sc Script) {
	s.mu.Lock()
	s.script = sc
	s.mu.Unlock()
}

// SetAckDisabled turns indexer acknowledgement off (true) or on.
func (s *Server) SetAckDisabled(off bool) {
	s.mu.Lock()
	s.ackOff = off
	s.mu.Unlock()
}

// SetBusy makes the next n requests (events or acks) fail with 503 code 9.
func (s *Server) SetBusy(n int) {
	s.mu.Lock()
	s.busy = n
	s.mu.Unlock()
}

// Indexed returns every indexed event, in indexing order.
func (s *Server) Indexed() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.indexed...)
}

// Acknowledged reports whether every event with seq <= upTo has been
// acknowledged to some client: its request was indexed and an ack query
// answered true for it.
func (s *Server) Acknowledged(upTo uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	acked := map[uint64]bool{}
	for _, e := range s.indexed {
		if p := s.channels[e.Channel][e.AckID]; p == nil { // forgotten: answered true
			acked[e.Seq] = true
		}
	}
	for seq := uint64(1); seq <= upTo; seq++ {
		if !acked[seq] {
			return false
		}
	}
	return true
}

// Restart is what a HEC restart does to its channels: the ackIds of lost
// requests are forgotten and every channel numbers its ackIds from 0
// again, so a new request may get the ackId of one still unacknowledged.
func (s *Server) Restart() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch, ids := range s.channels {
		for id, p := range ids {
			if p.lose {
				delete(ids, id)
			}
		}
		s.next[ch] = 0
	}
}

// Posts counts accepted event requests; AckQueries counts ack requests.
func (s *Server) Posts() (posts, ackQueries int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts, s.ackQueries
}

// MaxAckQuery is the most ackIds one ack query asked about: above 1, a
// client had several requests in flight.
func (s *Server) MaxAckQuery() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxQuery
}

// Channels returns the channels that sent events.
func (s *Server) Channels() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for c := range s.next {
		out = append(out, c)
	}
	return out
}

// Changed returns a channel closed at the next accepted request or ack
// query.
func (s *Server) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *Server) changedLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

var guid = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

func answer(w http.ResponseWriter, status, code int, text string, extra ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	m := map[string]any{"text": text, "code": code}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	json.NewEncoder(w).Encode(m)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	event := r.URL.Path == "/services/collector/event" || r.URL.Path == "/services/collector"
	if r.Method != http.MethodPost || (!event && r.URL.Path != "/services/collector/ack") {
		answer(w, http.StatusNotFound, 404, "The requested URL was not found on this server.")
		return
	}
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		answer(w, http.StatusUnauthorized, 2, "Token is required")
		return
	case !strings.HasPrefix(auth, "Splunk "):
		answer(w, http.StatusUnauthorized, 3, "Invalid authorization")
		return
	case auth != "Splunk "+s.token:
		answer(w, http.StatusForbidden, 4, "Invalid token")
		return
	}
	if s.busy > 0 {
		s.busy--
		answer(w, http.StatusServiceUnavailable, 9, "Server is busy")
		return
	}
	channel := r.Header.Get("X-Splunk-Request-Channel")
	if channel == "" {
		channel = r.URL.Query().Get("channel")
	}
	if !event {
		s.serveAck(w, r, channel)
		return
	}
	if channel == "" && !s.ackOff {
		answer(w, http.StatusBadRequest, 10, "Data channel is missing")
		return
	}
	if channel != "" && !guid.MatchString(channel) {
		answer(w, http.StatusBadRequest, 11, "Invalid data channel")
		return
	}
	events, status, code, text := decodeEvents(r.Body)
	if code != 0 {
		answer(w, status, code, text)
		return
	}
	s.posts++
	defer s.changedLocked()
	if s.ackOff {
		s.index(channel, 0, events)
		answer(w, http.StatusOK, 0, "Success")
		return
	}
	id := s.next[channel]
	s.next[channel] = id + 1
	req := Request{Channel: channel, AckID: id, Events: events}
	var fate Fate
	if s.script != nil {
		fate = s.script(req)
	}
	if s.channels[channel] == nil {
		s.channels[channel] = map[uint64]*pending{}
	}
	s.channels[channel][id] = &pending{lose: fate.Lose, after: fate.After}
	if !fate.Lose {
		s.index(channel, id, events)
	}
	answer(w, http.StatusOK, 0, "Success", "ackId", id)
}

func (s *Server) index(channel string, id uint64, events []Event) {
	for _, e := range events {
		e.Channel, e.AckID = channel, id
		s.indexed = append(s.indexed, e)
	}
}

// serveAck answers an ack query; s.mu is held.
func (s *Server) serveAck(w http.ResponseWriter, r *http.Request, channel string) {
	if s.ackOff {
		answer(w, http.StatusBadRequest, 14, "ACK is disabled")
		return
	}
	if channel == "" {
		answer(w, http.StatusBadRequest, 10, "Data channel is missing")
		return
	}
	if !guid.MatchString(channel) {
		answer(w, http.StatusBadRequest, 11, "Invalid data channel")
		return
	}
	var q struct {
		Acks []uint64 `json:"acks"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&q); err != nil || q.Acks == nil {
		answer(w, http.StatusBadRequest, 6, "Invalid data format")
		return
	}
	s.ackQueries++
	s.maxQuery = max(s.maxQuery, len(q.Acks))
	defer s.changedLocked()
	out := map[string]bool{}
	for _, id := range q.Acks {
		p := s.channels[channel][id]
		done := p != nil && !p.lose && p.queries >= p.after
		if p != nil {
			p.queries++
		}
		if done {
			delete(s.channels[channel], id)
		}
		out[strconv.FormatUint(id, 10)] = done
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"acks": out})
}

// decodeEvents reads concatenated HEC events; a non-zero code is HEC's
// refusal.
func decodeEvents(body io.Reader) ([]Event, int, int, string) {
	dec := json.NewDecoder(io.LimitReader(body, 64<<20))
	dec.UseNumber()
	var out []Event
	for {
		var ev map[string]any
		err := dec.Decode(&ev)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, http.StatusBadRequest, 6, fmt.Sprintf("Invalid data format (event %d)", len(out))
		}
		inner, ok := ev["event"]
		if !ok {
			return nil, http.StatusBadRequest, 12, "Event field is required"
		}
		if inner == nil || inner == "" {
			return nil, http.StatusBadRequest, 13, "Event field cannot be blank"
		}
		if _, ok := ev["time"].(json.Number); !ok {
			return nil, http.StatusBadRequest, 6, "Invalid data format (time)"
		}
		fields, _ := ev["fields"].(map[string]any)
		for _, v := range fields {
			if _, ok := v.(string); !ok {
				return nil, http.StatusBadRequest, 15, "Error in handling indexed fields"
			}
		}
		e := Event{Raw: ev}
		if v, ok := fields["seq"].(string); ok {
			e.Seq, _ = strconv.ParseUint(v, 10, 64)
		}
		if m, ok := inner.(map[string]any); ok {
			e.Hash, _ = m["hash"].(string)
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		return nil, http.StatusBadRequest, 5, "No data"
	}
	return out, 0, 0, ""
}
