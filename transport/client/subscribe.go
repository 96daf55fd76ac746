package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

// SubscribeOptions say where a subscription starts. The zero value starts
// with the next committed block.
type SubscribeOptions struct {
	// After resumes after this event id (an api.WriteEvent's ID, or a
	// checkpoint height): every later write is delivered.
	After string
	// FromHeight starts at the first write of this height.
	FromHeight int64
	// Buffer is the capacity of the Events channel (default 256).
	Buffer int
}

// Subscription delivers committed writes under a key prefix, in commit
// order, without gaps: when the connection drops or falls behind, it
// reconnects and resumes after the last position it saw. Events is closed
// when the subscription ends; Err then says why (nil after Close or the
// context's end).
type Subscription struct {
	events chan api.WriteEvent
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	err  error
	last *api.EventID
}

// Events is the stream of writes.
func (s *Subscription) Events() <-chan api.WriteEvent { return s.events }

// Err is why the subscription ended (valid once Events is closed).
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// LastID is the position delivered last ("" before any), for a later
// SubscribeOptions.After.
func (s *Subscription) LastID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return ""
	}
	return s.last.String()
}

// Close ends the subscription and waits for it to stop.
func (s *Subscription) Close() {
	s.cancel()
	<-s.done
}

// Sink is how a Conn hands a stream to the Subscription.
type Sink struct {
	// Ready is called once the node accepted the subscription.
	Ready func()
	// Emit delivers ev (nil: a checkpoint only) at position pos.
	Emit func(ev *api.WriteEvent, pos api.EventID) error
}

// subscribeMaxFailures bounds consecutive reconnects without progress.
const subscribeMaxFailures = 20

// Subscribe streams the committed writes whose key starts with prefix.
// Over REST the gateway filters them by the reader's read permission (the
// subscription is signed by the client's reader); over CometBFT RPC every
// node client sees whole blocks anyway. It returns once the node accepted
// the subscription.
func (c *Client) Subscribe(ctx context.Context, prefix string, opts SubscribeOptions) (*Subscription, error) {
	last, err := opts.startAfter()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Subscription{events: make(chan api.WriteEvent, opts.buffer()), cancel: cancel, done: make(chan struct{}), last: last}
	firstErr := make(chan error, 1)
	go c.follow(ctx, s, prefix, firstErr)
	select {
	case err := <-firstErr:
		if err != nil {
			cancel()
			<-s.done
			return nil, err
		}
		return s, nil
	case <-ctx.Done():
		<-s.done
		return nil, ctx.Err()
	}
}

// buffer is the capacity of the Events channel.
func (o SubscribeOptions) buffer() int {
	if o.Buffer <= 0 {
		return 256
	}
	return o.Buffer
}

// startAfter is the position the subscription starts after (nil: the next
// committed block).
func (o SubscribeOptions) startAfter() (*api.EventID, error) {
	var id api.EventID
	switch {
	case o.After != "":
		var err error
		if id, err = api.ParseEventID(o.After); err != nil {
			return nil, err
		}
	case o.FromHeight > 1:
		id = api.Checkpoint(o.FromHeight - 1)
	case o.FromHeight == 1:
		id = api.Checkpoint(0) // before everything
	default:
		return nil, nil
	}
	return &id, nil
}

// follow runs s until ctx ends or its stream fails for good, then closes
// Events. Every reconnect resumes after the last position delivered; they
// back off while they make no progress, and subscribeMaxFailures of them in
// a row end the subscription. firstErr gets nil once the node accepted the
// subscription, or the error that kept it from doing so.
func (c *Client) follow(ctx context.Context, s *Subscription, prefix string, firstErr chan<- error) {
	defer close(s.done)
	defer close(s.events)
	var connected atomic.Bool
	var readyOnce sync.Once
	sink := Sink{
		Ready: func() {
			connected.Store(true)
			readyOnce.Do(func() { firstErr <- nil })
		},
		Emit: func(ev *api.WriteEvent, pos api.EventID) error { return s.emit(ctx, ev, pos) },
	}
	auth := c.eventsAuth(ctx, prefix)
	failures, delay := 0, 100*time.Millisecond
	for {
		before := s.position()
		err := c.conn.Subscribe(ctx, prefix, before, auth, sink)
		if ctx.Err() != nil {
			return
		}
		if !connected.Load() || terminal(err) {
			s.setErr(err)
			select {
			case firstErr <- err:
			default:
			}
			return
		}
		if s.progressedSince(before) {
			failures, delay = 0, 100*time.Millisecond
		}
		if failures++; failures > subscribeMaxFailures {
			s.setErr(fmt.Errorf("client: event stream failed %d times in a row: %w", failures-1, err))
			return
		}
		if sleep(ctx, delay) != nil {
			return
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// eventsAuth signs each connection of a subscription to prefix with the
// client's reader (none without one).
func (c *Client) eventsAuth(ctx context.Context, prefix string) func() (*api.SignedRead, error) {
	return func() (*api.SignedRead, error) {
		reader := c.readerKey()
		if reader == nil {
			return nil, nil
		}
		path, data := api.EventsQuery(types.Address(reader.PubKey()), prefix)
		return c.signRead(ctx, reader, path, data, 0)
	}
}

// emit delivers ev (nil: a checkpoint only) at pos, unless pos was
// delivered already (a resumed stream overlaps), and moves the position.
func (s *Subscription) emit(ctx context.Context, ev *api.WriteEvent, pos api.EventID) error {
	s.mu.Lock()
	if s.last != nil && !s.last.Less(pos) {
		s.mu.Unlock()
		return nil
	}
	s.last = &pos
	s.mu.Unlock()
	if ev == nil {
		return nil
	}
	select {
	case s.events <- *ev:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// position is the position delivered last (nil before any).
func (s *Subscription) position() *api.EventID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// progressedSince reports whether a position after before was delivered.
func (s *Subscription) progressedSince(before *api.EventID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last != nil && (before == nil || before.Less(*s.last))
}

func (s *Subscription) setErr(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// terminal reports whether a stream error will not go away by retrying.
func terminal(err error) bool {
	return errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrQuery) || errors.Is(err, ErrUnsupported)
}

// subscribe reads the gateway's Server-Sent Events stream.
func (r *restConn) Subscribe(ctx context.Context, prefix string, from *api.EventID, auth func() (*api.SignedRead, error), sink Sink) error {
	q := url.Values{"prefix": {prefix}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+api.PathEvents+"?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if from != nil {
		req.Header.Set("Last-Event-ID", from.String())
	}
	sr, err := auth()
	if err != nil {
		return err
	}
	resp, err := r.send(req, sr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sink.Ready()
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	var id, event string
	var data strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%w: %v", ErrStreamEnded, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line != "" {
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				id = value
			case "event":
				event = value
			case "data":
				if data.Len() > 0 {
					data.WriteByte('\n')
				}
				data.WriteString(value)
			}
			continue
		}
		// A blank line dispatches the event.
		if err := dispatchEvent(id, event, data.String(), sink); err != nil {
			return err
		}
		id, event = "", ""
		data.Reset()
	}
}

// dispatchEvent hands one Server-Sent Event (its id, event and data
// fields) to sink: a write, a checkpoint (an id without data), or the
// gateway's error event, which ends the stream with its problem.
func dispatchEvent(id, event, data string, sink Sink) error {
	var pos *api.EventID
	if id != "" {
		p, err := api.ParseEventID(id)
		if err != nil {
			return fmt.Errorf("%w: bad event id from the gateway: %v", ErrQuery, err)
		}
		pos = &p
	}
	switch {
	case event == api.EventError:
		var p api.Problem
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			return fmt.Errorf("%w: bad error event: %v", ErrQuery, err)
		}
		return wrapProblem(&p)
	case event == api.EventWrite && pos != nil:
		var ev api.WriteEvent
		if err := json.Unmarshal([]byte(data), &ev); err != nil {
			return fmt.Errorf("%w: bad write event: %v", ErrQuery, err)
		}
		return sink.Emit(&ev, *pos)
	case pos != nil && data == "":
		return sink.Emit(nil, *pos)
	}
	return nil
}
