package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

// Global transactions (gtx): begin one, register participants, read gtxs,
// the pending work and participants, and wait for a gtx to end. The reads
// are signed with the client's reader, like every read; on a chain with
// access control a gtx is readable by its creator and by readers with
// read on types.GtxReadKey(gid).

// BeginGtx submits b, signed by the client's signer, and waits for its
// block. The gtx then runs on the chain: executors call its participants.
func (c *Client) BeginGtx(ctx context.Context, b *types.BeginGtx) (Result, error) {
	return c.SubmitOps(ctx, types.Op{Sum: &types.Op_BeginGtx{BeginGtx: b}})
}

// RegisterParticipant registers (or updates) a participant; the client's
// signer must be an admin of the participant's org.
func (c *Client) RegisterParticipant(ctx context.Context, p *types.RegisterParticipant) (Result, error) {
	return c.SubmitOps(ctx, types.Op{Sum: &types.Op_RegisterParticipant{RegisterParticipant: p}})
}

// Gtx returns gtx gid with its branches and journal.
func (c *Client) Gtx(ctx context.Context, gid string) (*types.Gtx, error) {
	var g types.Gtx
	return &g, c.rawProto(ctx, types.QueryGtx, []byte(gid), &g)
}

// GtxList returns a page of gtxs in gid order (req.After: the previous
// page's Next).
func (c *Client) GtxList(ctx context.Context, req *types.GtxListRequest) (*types.GtxList, error) {
	data, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	var l types.GtxList
	return &l, c.rawProto(ctx, types.QueryGtxList, data, &l)
}

// GtxPending returns a page of the awaited steps of the open gtxs.
func (c *Client) GtxPending(ctx context.Context, req *types.GtxPendingRequest) (*types.GtxPending, error) {
	data, err := req.Marshal()
	if err != nil {
		return nil, err
	}
	var p types.GtxPending
	return &p, c.rawProto(ctx, types.QueryGtxPending, data, &p)
}

// Participant returns a registered participant.
func (c *Client) Participant(ctx context.Context, id string) (*types.Participant, error) {
	var p types.Participant
	return &p, c.rawProto(ctx, types.QueryGtxParticipant, []byte(id), &p)
}

// DefaultGtxPoll is how often AwaitGtx reads a gtx.
const DefaultGtxPoll = 200 * time.Millisecond

// AwaitGtx reads gtx gid every poll (0: DefaultGtxPoll) until it is in a
// final phase (committed or aborted) and returns it, or until ctx ends.
// seen, when not nil, is called with every read that differs from the one
// before (the gtx as it moves).
func (c *Client) AwaitGtx(ctx context.Context, gid string, poll time.Duration, seen func(*types.Gtx)) (*types.Gtx, error) {
	if poll <= 0 {
		poll = DefaultGtxPoll
	}
	var last []byte
	for {
		g, err := c.Gtx(ctx, gid)
		if err != nil {
			return nil, err
		}
		if b, _ := g.Marshal(); seen != nil && string(b) != string(last) {
			last = b
			seen(g)
		}
		if g.Phase.IsFinal() {
			return g, nil
		}
		select {
		case <-ctx.Done():
			return g, ctx.Err()
		case <-time.After(poll):
		}
	}
}

type protoMessage interface{ Unmarshal([]byte) error }

// rawProto runs a gtx query and decodes its protobuf answer into m.
func (c *Client) rawProto(ctx context.Context, path string, data []byte, m protoMessage) error {
	b, err := c.Raw(ctx, path, data)
	if err != nil {
		return err
	}
	if err := m.Unmarshal(b); err != nil {
		return fmt.Errorf("%w: decode %s answer: %v", ErrQuery, path, err)
	}
	return nil
}

// gtxRoute is the gateway route of a gtx query (path, data); ok is false
// for any other path.
func gtxRoute(path string, data []byte) (route string, ok bool, err error) {
	q := url.Values{}
	switch path {
	case types.QueryGtx:
		return api.PathGtxs + "/" + url.PathEscape(string(data)), true, nil
	case types.QueryGtxParticipant:
		return api.PathGtxParticipants + url.PathEscape(string(data)), true, nil
	case types.QueryGtxList:
		var req types.GtxListRequest
		if err := req.Unmarshal(data); err != nil {
			return "", true, err
		}
		page(q, req.After, req.Limit)
		if req.OpenOnly {
			q.Set("open", "true")
		}
		return withQuery(api.PathGtxs, q), true, nil
	case types.QueryGtxPending:
		var req types.GtxPendingRequest
		if err := req.Unmarshal(data); err != nil {
			return "", true, err
		}
		page(q, req.After, req.Limit)
		if req.Org != "" {
			q.Set("org", req.Org)
		}
		return withQuery(api.PathGtxPending, q), true, nil
	}
	return "", false, nil
}

func page(q url.Values, after string, limit uint32) {
	if after != "" {
		q.Set("after", after)
	}
	if limit != 0 {
		q.Set("limit", strconv.FormatUint(uint64(limit), 10))
	}
}

func withQuery(p string, q url.Values) string {
	if len(q) == 0 {
		return p
	}
	return p + "?" + q.Encode()
}

// maxGtxAnswer bounds a gtx answer read from the gateway.
const maxGtxAnswer = 64 << 20

// getProto asks the gateway for route's protobuf answer.
func (r *restConn) getProto(ctx context.Context, route string, sr *api.SignedRead) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+route, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", api.ContentTypeProtobuf)
	resp, err := r.send(req, sr)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxGtxAnswer+1))
	if err != nil {
		return nil, Unreachable(r.base, err)
	}
	if len(b) > maxGtxAnswer {
		return nil, fmt.Errorf("%w: the answer is over %d bytes", ErrQuery, maxGtxAnswer)
	}
	return b, nil
}
