package rest

import (
	"net/http"
	"strings"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

// The global-transaction reads (transport/api/gtx.go). Each is decided by
// the node, as every other read: the gateway forwards the client's signed
// query. A client that sends "Accept: application/x-protobuf" gets the
// node's protobuf answer (the Go SDK does); anyone else the JSON view.

// Route names of the gtx endpoints.
const (
	routeGtxList        = "gtx_list"
	routeGtx            = "gtx"
	routeGtxPending     = "gtx_pending"
	routeGtxParticipant = "gtx_participant"
)

// Read kinds of the gtx endpoints in a ReadRequest.
const (
	ReadGtx            = "gtx"             // GET /v1/gtxs/{gid} (Key: types.GtxReadKey(gid))
	ReadGtxList        = "gtx_list"        // GET /v1/gtxs
	ReadGtxPending     = "gtx_pending"     // GET /v1/gtx/pending
	ReadGtxParticipant = "gtx_participant" // GET /v1/gtx/participants/{id} (Key: the id)
)

// gtxRoutes are appended to routes (and documented in openapi.json).
var gtxRoutes = []routeSpec{
	{http.MethodGet, api.PathGtxs, routeGtxList},
	{http.MethodGet, api.PathGtxs + "/{gid}", routeGtx},
	{http.MethodGet, api.PathGtxPending, routeGtxPending},
	{http.MethodGet, api.PathGtxParticipants + "{id}", routeGtxParticipant},
}

// matchGtx is match for the gtx paths; routeNone when none is. Gids and
// participant ids have no characters that need escaping.
func matchGtx(escapedPath string) (name, param string) {
	switch escapedPath {
	case api.PathGtxs:
		return routeGtxList, ""
	case api.PathGtxPending:
		return routeGtxPending, ""
	}
	if rest, ok := strings.CutPrefix(escapedPath, api.PathGtxs+"/"); ok && rest != "" && !strings.Contains(rest, "/") {
		return routeGtx, rest
	}
	if rest, ok := strings.CutPrefix(escapedPath, api.PathGtxParticipants); ok && rest != "" && !strings.Contains(rest, "/") {
		return routeGtxParticipant, rest
	}
	return routeNone, ""
}

// routeGtxs serves the gtx routes; false when name is none of them.
func (g *Gateway) routeGtxs(w http.ResponseWriter, r *http.Request, name, param string) bool {
	switch name {
	case routeGtxList:
		g.handleGtxList(w, r)
	case routeGtx:
		g.handleGtx(w, r, param)
	case routeGtxPending:
		g.handleGtxPending(w, r)
	case routeGtxParticipant:
		g.handleGtxParticipant(w, r, param)
	default:
		return false
	}
	return true
}

type protoAnswer interface {
	Unmarshal([]byte) error
}

// answerGtx runs a gtx query and writes its answer: the node's bytes for a
// protobuf client, else view(decoded answer) as JSON.
func answerGtx[M protoAnswer](g *Gateway, w http.ResponseWriter, r *http.Request, path string, data []byte, height int64, m M, view func(M) any) {
	val, _ := g.query(w, r, path, data, height)
	if val == nil {
		return
	}
	if strings.Contains(r.Header.Get("Accept"), api.ContentTypeProtobuf) {
		w.Header().Set("Content-Type", api.ContentTypeProtobuf)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(val)
		return
	}
	if err := m.Unmarshal(val); err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemInternal, "decoding the node's answer: "+err.Error()))
		return
	}
	writeJSON(w, view(m))
}

// pageParams reads ?after= (a gid) and ?limit=.
func pageParams(w http.ResponseWriter, r *http.Request) (after string, limit uint32, ok bool) {
	after = r.URL.Query().Get("after")
	if after != "" && !types.ValidGtxName(after, types.MaxGtxIDBytes) {
		badParam(w, r, "parameter after=%q: want a gid", after)
		return "", 0, false
	}
	n, _, err := queryInt(r, "limit")
	if err != nil || n > types.GtxPageMax {
		badParam(w, r, "parameter limit=%q: want 0 to %d (0: %d)", r.URL.Query().Get("limit"), types.GtxPageMax, types.GtxPageDefault)
		return "", 0, false
	}
	return after, uint32(n), true
}

func (g *Gateway) handleGtxList(w http.ResponseWriter, r *http.Request) {
	after, limit, ok := pageParams(w, r)
	if !ok {
		return
	}
	open := r.URL.Query().Get("open")
	if open != "" && open != "true" && open != "false" {
		badParam(w, r, "parameter open=%q: want true or false", open)
		return
	}
	if !g.authorize(w, r, ReadRequest{Kind: ReadGtxList}) {
		return
	}
	data, _ := (&types.GtxListRequest{After: after, Limit: limit, OpenOnly: open == "true"}).Marshal()
	answerGtx(g, w, r, types.QueryGtxList, data, 0, &types.GtxList{}, func(l *types.GtxList) any { return api.GtxListViewOf(l) })
}

func (g *Gateway) handleGtx(w http.ResponseWriter, r *http.Request, gid string) {
	if !types.ValidGtxName(gid, types.MaxGtxIDBytes) {
		badParam(w, r, "gid %q: want 1-%d characters of A-Z a-z 0-9 . _ : -", gid, types.MaxGtxIDBytes)
		return
	}
	height, _, err := queryInt(r, "height")
	if err != nil {
		badParam(w, r, "%v", err)
		return
	}
	if !g.authorize(w, r, ReadRequest{Kind: ReadGtx, Key: types.GtxReadKey(gid)}) {
		return
	}
	answerGtx(g, w, r, types.QueryGtx, []byte(gid), height, &types.Gtx{}, func(x *types.Gtx) any { return api.GtxViewOf(x) })
}

func (g *Gateway) handleGtxPending(w http.ResponseWriter, r *http.Request) {
	after, limit, ok := pageParams(w, r)
	if !ok {
		return
	}
	org := r.URL.Query().Get("org")
	if len(org) > types.MaxParticipantIDBytes*2 {
		badParam(w, r, "parameter org: %d bytes, the limit is %d", len(org), types.MaxParticipantIDBytes*2)
		return
	}
	if !g.authorize(w, r, ReadRequest{Kind: ReadGtxPending}) {
		return
	}
	data, _ := (&types.GtxPendingRequest{After: after, Limit: limit, Org: org}).Marshal()
	answerGtx(g, w, r, types.QueryGtxPending, data, 0, &types.GtxPending{}, func(p *types.GtxPending) any { return api.GtxPendingViewOf(p) })
}

func (g *Gateway) handleGtxParticipant(w http.ResponseWriter, r *http.Request, id string) {
	if !types.ValidGtxName(id, types.MaxParticipantIDBytes) {
		badParam(w, r, "participant id %q: want 1-%d characters of A-Z a-z 0-9 . _ : -", id, types.MaxParticipantIDBytes)
		return
	}
	if !g.authorize(w, r, ReadRequest{Kind: ReadGtxParticipant, Key: id}) {
		return
	}
	answerGtx(g, w, r, types.QueryGtxParticipant, []byte(id), 0, &types.Participant{}, func(p *types.Participant) any { return api.ParticipantViewOf(p) })
}
