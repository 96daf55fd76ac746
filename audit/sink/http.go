package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/format"
)

// HTTP modes.
const (
	// ModeHEC: Splunk HTTP Event Collector. POST the events concatenated
	// (format hec), "Authorization: Splunk TOKEN", on a channel
	// (X-Splunk-Request-Channel); delivered once HEC's indexer
	// acknowledgement says the request's ackId is indexed (see
	// HECAckIndexed), or, with HECAckReceived, on 2xx and "code": 0.
	ModeHEC = "hec"
	// ModeBulk: Elasticsearch/OpenSearch _bulk. POST NDJSON pairs
	// {"create":{"_index":INDEX,"_id":EVENT_ID}} + document; 2xx and no
	// item failing other than 409 (already there: a re-sent entry).
	ModeBulk = "bulk"
	// ModeNDJSON: one record per line, any format; 2xx.
	ModeNDJSON = "ndjson"
)

// HTTPOptions configure an HTTPSink.
type HTTPOptions struct {
	URL         string
	Mode        string            // ModeHEC, ModeBulk or ModeNDJSON
	Index       string            // _index for ModeBulk
	TokenHeader string            // default "Authorization"
	Token       string            // sent as TokenHeader: TokenPrefix + Token ("" = no header)
	TokenPrefix string            // default "Splunk " (hec), "ApiKey " (bulk), "Bearer " (ndjson)
	Headers     map[string]string // extra headers
	Client      *http.Client      // default: a client with Timeout
	Timeout     time.Duration     // per request (default 10 s)

	// ModeHEC only.
	Channel         string        // X-Splunk-Request-Channel, a GUID; "" = NewHECChannel()
	Ack             string        // HECAckIndexed (default) or HECAckReceived
	AckTimeout      time.Duration // resend a request not acknowledged within this (default 5 min)
	AckPollInterval time.Duration // longest wait between ack queries (default 10 s)
	AckWindow       int           // batches in flight awaiting acknowledgement (default 8)
}

// HTTPSink POSTs each batch as one request.
type HTTPSink struct {
	name   string
	opts   HTTPOptions
	f      format.Formatter
	fopts  format.Options
	buf    bytes.Buffer
	rec    []byte
	ackURL string // ModeHEC with HECAckIndexed
}

var _ Sink = (*HTTPSink)(nil)

// NewHTTPSink returns a sink posting records made by f.
func NewHTTPSink(name string, f format.Formatter, fopts format.Options, opts HTTPOptions) (*HTTPSink, error) {
	switch opts.Mode {
	case ModeHEC, ModeBulk, ModeNDJSON:
	default:
		return nil, fmt.Errorf("sink %s: http mode %q is not %s, %s or %s", name, opts.Mode, ModeHEC, ModeBulk, ModeNDJSON)
	}
	if !strings.HasPrefix(opts.URL, "http://") && !strings.HasPrefix(opts.URL, "https://") {
		return nil, fmt.Errorf("sink %s: url %q is not http(s)", name, opts.URL)
	}
	if opts.TokenHeader == "" {
		opts.TokenHeader = "Authorization"
	}
	if opts.TokenPrefix == "" && opts.TokenHeader == "Authorization" {
		opts.TokenPrefix = map[string]string{ModeHEC: "Splunk ", ModeBulk: "ApiKey ", ModeNDJSON: "Bearer "}[opts.Mode]
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: opts.Timeout}
	}
	s := &HTTPSink{name: name, opts: opts, f: f, fopts: fopts}
	if opts.Mode == ModeHEC {
		if err := s.hecDefaults(); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Name implements Sink.
func (s *HTTPSink) Name() string { return s.name }

type bulkAction struct {
	Create bulkMeta `json:"create"`
}

type bulkMeta struct {
	Index string `json:"_index,omitempty"`
	ID    string `json:"_id"`
}

// Send implements Sink. A HEC sink waiting for indexer acknowledgement
// posts the batch and polls for its ackId (the shipper instead keeps
// several batches in flight through Acknowledger).
func (s *HTTPSink) Send(ctx context.Context, entries []audit.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if s.ackURL != "" {
		id, err := s.Post(ctx, entries)
		if err != nil {
			return err
		}
		return s.waitIndexed(ctx, id)
	}
	status, body, err := s.postEntries(ctx, entries)
	if err != nil {
		return err
	}
	switch s.opts.Mode {
	case ModeHEC:
		_, err := parseHECAnswer(status, body)
		if err != nil {
			return fmt.Errorf("sink %s: %w", s.name, err)
		}
		return nil
	case ModeBulk:
		if status/100 != 2 {
			return fmt.Errorf("sink %s: %s answered %d %s: %.200s", s.name, s.opts.URL, status, http.StatusText(status), body)
		}
		return checkBulk(s.name, body, len(entries))
	}
	if status/100 != 2 {
		return fmt.Errorf("sink %s: %s answered %d %s: %.200s", s.name, s.opts.URL, status, http.StatusText(status), body)
	}
	return nil
}

// postEntries formats entries into one request body and posts it.
func (s *HTTPSink) postEntries(ctx context.Context, entries []audit.Entry) (int, []byte, error) {
	s.buf.Reset()
	for i := range entries {
		if s.opts.Mode == ModeBulk {
			b, _ := json.Marshal(bulkAction{bulkMeta{Index: s.opts.Index, ID: format.ECSDocumentID(s.fopts, &entries[i])}})
			s.buf.Write(b)
			s.buf.WriteByte('\n')
		}
		s.rec = s.f.Append(s.rec[:0], &entries[i])
		s.buf.Write(s.rec)
		s.buf.WriteByte('\n')
	}
	ct := "application/json"
	if s.opts.Mode != ModeHEC {
		ct = "application/x-ndjson"
	}
	return s.post(ctx, s.opts.URL, ct, s.buf.Bytes())
}

// Bounds of a receiver's answer: Elasticsearch's _bulk answers name every
// entry of a batch; HEC's are a code, a text, an ackId or the acks asked
// about. A longer answer is read no further and refused.
const (
	maxAnswer    = 8 << 20
	hecMaxAnswer = 64 << 10
)

// post sends one request with the sink's headers (and, in ModeHEC, its
// channel) and returns the answer's status and body (at most maxAnswer
// bytes, hecMaxAnswer from HEC).
func (s *HTTPSink) post(ctx context.Context, url, contentType string, payload []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return 0, nil, fmt.Errorf("sink %s: %w", s.name, err)
	}
	req.Header.Set("Content-Type", contentType)
	if s.opts.Token != "" {
		req.Header.Set(s.opts.TokenHeader, s.opts.TokenPrefix+s.opts.Token)
	}
	for k, v := range s.opts.Headers {
		req.Header.Set(k, v)
	}
	if s.opts.Mode == ModeHEC {
		req.Header.Set(HECChannelHeader, s.opts.Channel)
	}
	resp, err := s.opts.Client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("sink %s: post: %w", s.name, err)
	}
	defer resp.Body.Close()
	limit := int64(maxAnswer)
	if s.opts.Mode == ModeHEC {
		limit = hecMaxAnswer
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return 0, nil, fmt.Errorf("sink %s: read answer: %w", s.name, err)
	}
	if int64(len(body)) > limit {
		return 0, nil, fmt.Errorf("sink %s: %s answered %d %s with more than %d bytes: refused, not decoded", s.name, url, resp.StatusCode, http.StatusText(resp.StatusCode), limit)
	}
	return resp.StatusCode, body, nil
}

// checkBulk reads an Elasticsearch _bulk answer: every item must be 2xx or
// 409 (a document with that _id exists: a re-sent entry).
func checkBulk(name string, body []byte, n int) error {
	var ans struct {
		Errors bool `json:"errors"`
		Items  []map[string]struct {
			Status int             `json:"status"`
			Error  json.RawMessage `json:"error"`
		} `json:"items"`
	}
	if err := json.Unmarshal(body, &ans); err != nil {
		return fmt.Errorf("sink %s: bulk answer: %v", name, err)
	}
	if len(ans.Items) != n {
		return fmt.Errorf("sink %s: bulk answer has %d items for %d documents", name, len(ans.Items), n)
	}
	if !ans.Errors {
		return nil
	}
	for i, item := range ans.Items {
		for _, r := range item {
			if r.Status/100 != 2 && r.Status != http.StatusConflict {
				return fmt.Errorf("sink %s: bulk item %d: status %d: %.200s", name, i, r.Status, r.Error)
			}
		}
	}
	return nil
}

// Close implements Sink.
func (s *HTTPSink) Close() error {
	s.opts.Client.CloseIdleConnections()
	return nil
}
