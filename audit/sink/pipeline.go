package sink

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dstt/dstt/audit"
)

// ErrNotAcknowledged: the receiver did not acknowledge a batch within the
// acknowledgement timeout (or the send deadline); the batch is sent again.
var ErrNotAcknowledged = errors.New("sink: the receiver did not acknowledge the batch in time; sending it again")

// firstAckPoll is the first wait before asking an Acknowledger about a
// batch; later waits double up to its PollInterval.
const firstAckPoll = 50 * time.Millisecond

// flight is a batch posted to an Acknowledger and not yet confirmed, or
// confirmed but behind an unconfirmed one.
type flight struct {
	prev, last audit.ChainHead // the entry before the batch, and its last
	n          int
	ticket     uint64
	posted     time.Time
	acked      bool
}

// pipeline drives an Acknowledger: up to Window batches in flight, their
// tickets asked about together, the cursor saved over the confirmed
// prefix only, a batch unconfirmed after Timeout posted again.
type pipeline struct {
	s        *Shipper
	a        Acknowledger
	pol      AckPolicy
	sent     audit.ChainHead // last entry posted
	inflight []*flight
	pollWait time.Duration
	nextPoll time.Time
}

// runPipelined is Run for an Acknowledger, from cursor on.
func (s *Shipper) runPipelined(ctx context.Context, a Acknowledger, cursor audit.ChainHead) error {
	p := &pipeline{s: s, a: a, pol: a.AckPolicy(), sent: cursor}
	p.pollWait = min(firstAckPoll, p.pol.PollInterval)
	retry, reset := s.retrier(ctx)
	for ctx.Err() == nil {
		changed, head, err := s.observeHead(ctx)
		if err != nil {
			retry(err)
			continue
		}
		if err := p.fill(ctx, head); err != nil {
			retry(err)
			continue
		}
		if len(p.inflight) == 0 {
			s.waitForEntries(ctx, changed)
			continue
		}
		p.wait(ctx, changed)
		if err := p.poll(ctx); err != nil {
			retry(err)
			continue
		}
		reset()
	}
	return ctx.Err()
}

// fill posts batches after the last one sent, up to head, while the
// window has room.
func (p *pipeline) fill(ctx context.Context, head audit.ChainHead) error {
	for len(p.inflight) < p.pol.Window && head.Seq > p.sent.Seq {
		f, err := p.post(ctx, p.sent, int(min(uint64(p.s.opts.BatchSize), head.Seq-p.sent.Seq)))
		if err != nil {
			return err
		}
		if len(p.inflight) == 0 { // a fresh start: ask soon
			p.pollWait = min(firstAckPoll, p.pol.PollInterval)
			p.nextPoll = f.posted.Add(p.pollWait)
		}
		p.inflight = append(p.inflight, f)
		p.sent = f.last
	}
	return nil
}

// post reads up to n entries after prev, checks them and posts them.
func (p *pipeline) post(ctx context.Context, prev audit.ChainHead, n int) (*flight, error) {
	entries, err := p.s.readVerified(ctx, prev, n)
	if err != nil {
		return nil, err
	}
	return p.postEntries(ctx, prev, entries)
}

// postEntries posts entries, which follow prev, as one batch.
func (p *pipeline) postEntries(ctx context.Context, prev audit.ChainHead, entries []audit.Entry) (*flight, error) {
	sctx, cancel := context.WithTimeout(ctx, p.s.opts.SendTimeout)
	ticket, err := p.a.Post(sctx, entries)
	cancel()
	if err != nil {
		return nil, err
	}
	last := entries[len(entries)-1]
	return &flight{prev: prev, last: audit.ChainHead{Seq: last.Seq, Hash: last.Hash}, n: len(entries), ticket: ticket, posted: time.Now()}, nil
}

// repost posts f's entries again (read in as many pages as the source
// needs), in f's place.
func (p *pipeline) repost(ctx context.Context, f *flight) error {
	var entries []audit.Entry
	for at := f.prev; at.Seq < f.last.Seq; {
		es, err := p.s.readVerified(ctx, at, int(f.last.Seq-at.Seq))
		if err != nil {
			return err
		}
		entries = append(entries, es...)
		last := es[len(es)-1]
		at = audit.ChainHead{Seq: last.Seq, Hash: last.Hash}
	}
	if last := entries[len(entries)-1]; last.Seq != f.last.Seq || !bytes.Equal(last.Hash, f.last.Hash) {
		return fmt.Errorf("resend %d-%d: the source now ends that range with seq %d hash %x, not hash %x", f.prev.Seq+1, f.last.Seq, last.Seq, last.Hash, f.last.Hash)
	}
	nf, err := p.postEntries(ctx, f.prev, entries)
	if err != nil {
		return err
	}
	f.ticket, f.posted = nf.ticket, nf.posted
	return nil
}

// wait waits for the next poll, or for new entries while the window has
// room, or for the end of ctx.
func (p *pipeline) wait(ctx context.Context, changed <-chan struct{}) {
	var more <-chan struct{}
	var woken chan struct{}
	if len(p.inflight) < p.pol.Window {
		more, woken = changed, p.s.wake
	}
	t := time.NewTimer(time.Until(p.nextPoll))
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	case <-more:
	case <-woken:
	}
}

// poll, when due, asks which batches are confirmed, saves the cursor over
// the confirmed prefix, and posts again the batches unconfirmed for
// longer than the timeout.
func (p *pipeline) poll(ctx context.Context) error {
	now := time.Now()
	if now.Before(p.nextPoll) {
		return nil
	}
	p.pollWait = min(2*p.pollWait, p.pol.PollInterval)
	p.nextPoll = now.Add(p.pollWait)
	var tickets []uint64
	for _, f := range p.inflight {
		if !f.acked {
			tickets = append(tickets, f.ticket)
		}
	}
	var err error
	if len(tickets) > 0 {
		sctx, cancel := context.WithTimeout(ctx, p.s.opts.SendTimeout)
		var acked map[uint64]bool
		acked, err = p.a.Acknowledged(sctx, tickets)
		cancel()
		owners := ticketOwners(p.inflight)
		for _, f := range p.inflight {
			f.acked = f.acked || (acked[f.ticket] && owners[f.ticket] == f)
		}
	}
	if err == nil {
		err = p.advance()
	}
	return errors.Join(err, p.resendLate(ctx, now))
}

// ticketOwners maps each ticket of the unconfirmed batches to the batch
// posted last with it: a receiver that restarted numbers its tickets anew
// (HEC's ackIds from 0), so an older batch holding the same ticket was
// lost with the restart, and the answer is about the newer one. The older
// one stays unconfirmed and is posted again after the timeout.
func ticketOwners(inflight []*flight) map[uint64]*flight {
	owners := make(map[uint64]*flight, len(inflight))
	for _, f := range inflight {
		if o := owners[f.ticket]; !f.acked && (o == nil || !f.posted.Before(o.posted)) {
			owners[f.ticket] = f
		}
	}
	return owners
}

// advance saves the cursor over the confirmed prefix of the batches in
// flight and drops them.
func (p *pipeline) advance() error {
	k, n := 0, 0
	for k < len(p.inflight) && p.inflight[k].acked {
		n += p.inflight[k].n
		k++
	}
	if k == 0 {
		return nil
	}
	next := p.inflight[k-1].last
	if err := p.s.cursors.Save(p.s.sink.Name(), next); err != nil {
		return fmt.Errorf("save cursor: %w", err) // kept confirmed: saved at the next poll
	}
	p.inflight = p.inflight[k:]
	p.s.acked(next, n)
	p.pollWait = min(firstAckPoll, p.pol.PollInterval)
	p.nextPoll = time.Now().Add(p.pollWait)
	return nil
}

// resendLate posts again every batch unconfirmed since before now -
// Timeout, in its place: the receiver may have lost it.
func (p *pipeline) resendLate(ctx context.Context, now time.Time) error {
	for _, f := range p.inflight {
		if f.acked || now.Sub(f.posted) < p.pol.Timeout {
			continue
		}
		p.s.fail(fmt.Errorf("entries %d-%d (ticket %d, posted %v ago): %w", f.prev.Seq+1, f.last.Seq, f.ticket, now.Sub(f.posted).Round(time.Millisecond), ErrNotAcknowledged))
		if err := p.repost(ctx, f); err != nil {
			return err
		}
	}
	return nil
}
