package abci

import (
	"fmt"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/types"
)

// The gtx reads (types.QueryGtx and the others in types/gtx.go). The
// engine's Reader decides who may read which gtx; participants are open.

func (a *App) queryGtx(q queryRequest) ([]byte, error) {
	g, err := a.reader.Gtx(q.reader, string(q.data), q.height)
	if err != nil {
		return nil, err
	}
	q.resp.Key = q.data
	if q.height != 0 {
		q.resp.Height = int64(q.height)
	}
	return g.Marshal()
}

func (a *App) queryGtxList(q queryRequest) ([]byte, error) {
	var req types.GtxListRequest
	if !types.IsCanonical(&req, q.data) {
		return nil, fmt.Errorf("%w: gtx list request does not decode", engine.ErrBadQuery)
	}
	l, err := a.reader.GtxList(q.reader, &req)
	if err != nil {
		return nil, err
	}
	return l.Marshal()
}

func (a *App) queryGtxPending(q queryRequest) ([]byte, error) {
	var req types.GtxPendingRequest
	if !types.IsCanonical(&req, q.data) {
		return nil, fmt.Errorf("%w: gtx pending request does not decode", engine.ErrBadQuery)
	}
	p, err := a.reader.GtxPending(q.reader, &req)
	if err != nil {
		return nil, err
	}
	return p.Marshal()
}

func (a *App) queryGtxParticipant(q queryRequest) ([]byte, error) {
	p, err := a.reader.Participant(string(q.data))
	if err != nil {
		return nil, err
	}
	return p.Marshal()
}
