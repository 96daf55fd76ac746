package sink

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dstt/dstt/audit"
)

// Splunk HTTP Event Collector delivery (ModeHEC).
//
// HTTP 200 from HEC means received, not indexed: an event can still be
// lost before an indexer writes it. With indexer acknowledgement (enabled
// per HEC token) every request carries a channel
// (X-Splunk-Request-Channel: GUID), the answer carries an ackId for the
// whole request, and POST /services/collector/ack {"acks":[ID]} on the
// same channel answers {"acks":{"ID":true}} once the events are indexed
// (then HEC forgets the ackId). With HECAckIndexed the sink is an
// Acknowledger: the shipper keeps up to AckWindow batches in flight, asks
// about all their ackIds in one query, and saves the cursor only over the
// acknowledged prefix (Send, for direct callers, posts and waits). A batch
// not acknowledged within AckTimeout counts as lost and is posted again:
// HEC may then hold duplicates, each with the same seq and hash, which
// consumers drop on (chain, seq).
const (
	// HECChannelHeader carries the channel on every HEC request.
	HECChannelHeader = "X-Splunk-Request-Channel"
	// HECAckIndexed: delivered when HEC's indexer acknowledgement says so
	// (the default; the token must have indexer acknowledgement enabled).
	HECAckIndexed = "indexed"
	// HECAckReceived: delivered on HTTP 2xx with "code": 0, which HEC
	// sends before the events enter its pipeline. Weaker: events HEC
	// loses before indexing are not resent.
	HECAckReceived = "received"

	// DefaultHECAckTimeout is how long a request may stay unacknowledged
	// before it is resent (Splunk's guidance: consider it lost after
	// about five minutes).
	DefaultHECAckTimeout = 5 * time.Minute
	// DefaultHECAckPoll is the longest wait between ack queries (Splunk
	// suggests querying about every 10 s); the first queries come sooner.
	DefaultHECAckPoll = 10 * time.Second

	// DefaultHECAckWindow is how many batches a HEC sink keeps in flight
	// awaiting acknowledgement.
	DefaultHECAckWindow = 8
)

var (
	// ErrHECAckDisabled: indexer acknowledgement is off for the token
	// while the sink needs it.
	ErrHECAckDisabled = errors.New("sink: HEC indexer acknowledgement is disabled for this token: " +
		"enable it on the token (Settings > Data inputs > HTTP Event Collector > the token > Enable indexer acknowledgement), " +
		`or set hec_ack = "received" to accept HTTP 200, which only means received: events HEC loses before indexing are then not resent`)
)

// HECError is an error answer from HEC: the HTTP status and HEC's own
// code and text.
type HECError struct {
	Status int
	Code   int // -1 when the body carried none
	Text   string
}

func (e *HECError) Error() string {
	msg := fmt.Sprintf("HEC answered %d %s, code %d %q", e.Status, http.StatusText(e.Status), e.Code, e.Text)
	switch e.Code {
	case 1, 2, 3, 4:
		msg += ": check the token (token or token_env)"
	case 5, 6, 12, 13, 15:
		msg += ": HEC refused the data; the batch is retried with backoff, never dropped"
	case 7:
		msg += ": the index does not exist or the token may not write to it (index)"
	case 9:
		msg += ": HEC is busy; backing off"
	case 10, 11:
		msg += ": HEC refused the channel (hec_channel must be a GUID)"
	case 14:
		msg += ": " + strings.TrimPrefix(ErrHECAckDisabled.Error(), "sink: ")
	}
	return msg
}

// Is makes a code 14 answer match ErrHECAckDisabled.
func (e *HECError) Is(target error) bool { return target == ErrHECAckDisabled && e.Code == 14 }

// hecAnswer is HEC's JSON answer to an event or ack request.
type hecAnswer struct {
	Text  string          `json:"text"`
	Code  *int            `json:"code"`
	AckID *uint64         `json:"ackId"`
	Acks  map[string]bool `json:"acks"`
}

func parseHECAnswer(status int, body []byte) (hecAnswer, error) {
	var a hecAnswer
	jerr := json.Unmarshal(body, &a)
	if status/100 != 2 {
		code := -1
		if jerr == nil && a.Code != nil {
			code = *a.Code
		}
		text := a.Text
		if jerr != nil || text == "" {
			text = fmt.Sprintf("%.200s", body)
		}
		return a, &HECError{Status: status, Code: code, Text: text}
	}
	if jerr != nil {
		return a, fmt.Errorf("HEC answered %d with a body that is not HEC's JSON: %v: %.200s", status, jerr, body)
	}
	if a.Code != nil && *a.Code != 0 {
		return a, &HECError{Status: status, Code: *a.Code, Text: a.Text}
	}
	return a, nil
}

// hecChannel is the form of a channel: a GUID.
var hecChannel = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)

// NewHECChannel returns a random (version 4) GUID.
func NewHECChannel() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// hecAckURL is HEC's ack endpoint beside the event endpoint u: the path up
// to /services/collector, then /ack.
func hecAckURL(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	i := strings.Index(p.Path, "/services/collector")
	if i < 0 {
		return "", fmt.Errorf("url %q has no /services/collector in its path, so HEC's ack endpoint is unknown", u)
	}
	p.Path = p.Path[:i] + "/services/collector/ack"
	p.RawPath = ""
	return p.String(), nil
}

// hecDefaults fills in and checks the ModeHEC options.
func (s *HTTPSink) hecDefaults() error {
	o := &s.opts
	if o.Channel == "" {
		o.Channel = NewHECChannel()
	}
	if !hecChannel.MatchString(o.Channel) {
		return fmt.Errorf("sink %s: HEC channel %q is not a GUID", s.name, o.Channel)
	}
	if o.Ack == "" {
		o.Ack = HECAckIndexed
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = DefaultHECAckTimeout
	}
	if o.AckPollInterval <= 0 {
		o.AckPollInterval = DefaultHECAckPoll
	}
	if o.AckWindow <= 0 {
		o.AckWindow = DefaultHECAckWindow
	}
	switch o.Ack {
	case HECAckReceived:
		return nil
	case HECAckIndexed:
		u, err := hecAckURL(o.URL)
		if err != nil {
			return fmt.Errorf("sink %s: %w", s.name, err)
		}
		s.ackURL = u
		return nil
	}
	return fmt.Errorf("sink %s: hec ack %q is not %s or %s", s.name, o.Ack, HECAckIndexed, HECAckReceived)
}

var _ Acknowledger = (*HTTPSink)(nil)

// AckPolicy implements Acknowledger: a HEC sink waiting for indexer
// acknowledgement keeps AckWindow batches in flight; other HTTP sinks
// none (their Send is final).
func (s *HTTPSink) AckPolicy() AckPolicy {
	if s.ackURL == "" {
		return AckPolicy{}
	}
	return AckPolicy{Window: s.opts.AckWindow, Timeout: s.opts.AckTimeout, PollInterval: s.opts.AckPollInterval}
}

// Post implements Acknowledger: it posts entries on the sink's channel
// and returns HEC's ackId for them.
func (s *HTTPSink) Post(ctx context.Context, entries []audit.Entry) (uint64, error) {
	status, body, err := s.postEntries(ctx, entries)
	if err != nil {
		return 0, err
	}
	a, err := parseHECAnswer(status, body)
	if err != nil {
		return 0, fmt.Errorf("sink %s: %w", s.name, err)
	}
	if a.AckID == nil {
		return 0, fmt.Errorf("sink %s: HEC answered without an ackId: %w", s.name, ErrHECAckDisabled)
	}
	return *a.AckID, nil
}

// Acknowledged implements Acknowledger: one query of HEC's ack endpoint
// on the sink's channel.
func (s *HTTPSink) Acknowledged(ctx context.Context, ids []uint64) (map[uint64]bool, error) {
	query, _ := json.Marshal(map[string][]uint64{"acks": ids})
	status, body, err := s.post(ctx, s.ackURL, "application/json", query)
	if err != nil {
		return nil, err
	}
	a, err := parseHECAnswer(status, body)
	if err != nil {
		return nil, fmt.Errorf("sink %s: ack query: %w", s.name, err)
	}
	out := make(map[uint64]bool, len(ids))
	for _, id := range ids {
		out[id] = a.Acks[strconv.FormatUint(id, 10)]
	}
	return out, nil
}

// waitIndexed polls HEC's ack endpoint until id is acknowledged, the ack
// timeout passes or ctx ends (both: ErrNotAcknowledged), or HEC says
// acknowledgement is disabled. Failed queries are retried until then. The
// wait between queries doubles from firstAckPoll up to AckPollInterval.
func (s *HTTPSink) waitIndexed(ctx context.Context, id uint64) error {
	actx, cancel := context.WithTimeout(ctx, s.opts.AckTimeout)
	defer cancel()
	wait := min(firstAckPoll, s.opts.AckPollInterval)
	var last error
	for {
		t := time.NewTimer(wait)
		select {
		case <-actx.Done():
			t.Stop()
			return fmt.Errorf("sink %s: ackId %d on channel %s: %w (last query error: %v)", s.name, id, s.opts.Channel, ErrNotAcknowledged, last)
		case <-t.C:
		}
		wait = min(2*wait, s.opts.AckPollInterval)
		acked, err := s.Acknowledged(actx, []uint64{id})
		switch {
		case errors.Is(err, ErrHECAckDisabled):
			return err
		case err != nil:
			last = err
		case acked[id]:
			return nil
		}
	}
}

// validateHEC adds to p what is wrong with the hec_* settings of s.
func (s SinkConfig) validateHEC(where string, p *problems) {
	if s.Mode != ModeHEC {
		if s.HECChannel != "" || s.HECAck != "" || s.HECAckTimeout != 0 || s.HECAckPoll != 0 || s.HECMaxPending != 0 {
			p.add("%s: hec_channel, hec_ack, hec_ack_timeout, hec_ack_poll and hec_max_pending need mode hec", where)
		}
		return
	}
	if s.HECChannel != "" && !hecChannel.MatchString(s.HECChannel) {
		p.add("%s: hec_channel %q is not a GUID (e.g. %s)", where, s.HECChannel, NewHECChannel())
	}
	switch s.HECAck {
	case "", HECAckIndexed:
		if _, err := hecAckURL(s.URL); err != nil {
			p.add("%s: hec_ack indexed: %v", where, err)
		}
	case HECAckReceived:
	default:
		p.add("%s: hec_ack %q is not %s or %s", where, s.HECAck, HECAckIndexed, HECAckReceived)
	}
	if s.HECAckTimeout < 0 || s.HECAckPoll < 0 || s.HECMaxPending < 0 {
		p.add("%s: hec_ack_timeout %v, hec_ack_poll %v and hec_max_pending %d must not be negative",
			where, time.Duration(s.HECAckTimeout), time.Duration(s.HECAckPoll), s.HECMaxPending)
	}
}
