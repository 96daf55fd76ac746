package rest

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

// pathUnescape decodes a key taken from the escaped path: %XX sequences
// (so "/" can travel as %2F), with "+" kept as it is.
func pathUnescape(s string) (string, error) { return url.PathUnescape(s) }

// authorize runs the read authorizer; false means a problem was written.
func (g *Gateway) authorize(w http.ResponseWriter, r *http.Request, req ReadRequest) bool {
	err := g.opts.Authorizer.AuthorizeRead(r, ClientIdentity(r), req)
	if err == nil {
		return true
	}
	var p *api.Problem
	if !errors.As(err, &p) {
		p = api.NewProblem(api.ProblemForbidden, err.Error())
	}
	g.authFailure(ClientIdentity(r), "read", []string{req.Kind + ":" + req.Key + req.TxHash}, fmt.Sprintf("%s read of %q refused: %s", req.Kind, req.Key+req.TxHash, p.Detail))
	writeProblem(w, r, p)
	return false
}

// query runs an ABCI query, signed by the request's reader when it has a
// Dstt-Query Authorization header, and writes the problem for a failure;
// a nil answer means a problem was written.
func (g *Gateway) query(w http.ResponseWriter, r *http.Request, path string, data []byte, height int64) ([]byte, int64) {
	val, h, p := g.ask(r, path, data, height)
	if p != nil {
		writeProblem(w, r, p)
		return nil, 0
	}
	return val, h
}

// ask runs an ABCI query for r (signed by its reader when it has a
// Dstt-Query Authorization header). A refusal comes back as the Problem
// to write; its detail is the gateway's own for the codes whose engine
// text speaks of another client (the CLI).
func (g *Gateway) ask(r *http.Request, path string, data []byte, height int64) ([]byte, int64, *api.Problem) {
	sr, p := signedRead(r)
	if p != nil {
		return nil, 0, p
	}
	res, err := g.queryAs(r.Context(), sr, path, data, height)
	if err != nil {
		return nil, 0, api.NewProblem(api.ProblemNotReady, "the node did not answer the query: "+err.Error())
	}
	if res.Code != 0 {
		c := types.Code(res.Code)
		p := api.QueryProblem(c, res.Log)
		p.Height = res.Height // the height the answer is for: a snapshot for "not found" too
		if height != 0 {
			p.Height = height // a read at H: the answer is for H, whatever the latest is
		}
		if c == types.CodeUnauthorized {
			p.Detail = unauthorizedDetail(sr != nil, p.Detail)
		}
		return nil, 0, p
	}
	if res.Value == nil {
		res.Value = []byte{}
	}
	return res.Value, res.Height, nil
}

// unauthorizedDetail is the detail of a read the node refused, for a REST
// client: an unsigned read is told which header to send (the node's own
// text names the CLI's flag), a signed one gets the node's reason.
func unauthorizedDetail(signed bool, nodeText string) string {
	if !signed {
		return "this read needs a signed query: this chain has access control and the read is not open to anyone; sign it with an " +
			"\"Authorization: " + api.AuthScheme + " pubkey=<base64>, time=<unix ms>, nonce=<base64>, sig=<base64>\" " +
			"header by a reader with read permission (docs/API.md, Authenticated reads; the Go SDK's client.WithReader signs for you)"
	}
	return "the node refused the signed read (" + api.AuthScheme + " Authorization header): " + nodeText
}

func badParam(w http.ResponseWriter, r *http.Request, format string, args ...any) {
	writeProblem(w, r, api.NewProblem(api.ProblemBadRequest, fmt.Sprintf(format, args...)))
}

// queryInt parses an optional non-negative integer query parameter.
func queryInt(r *http.Request, name string) (int64, bool, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, true, fmt.Errorf("parameter %s=%q: want a non-negative integer", name, s)
	}
	return n, true, nil
}

func (g *Gateway) handleKV(w http.ResponseWriter, r *http.Request, key string) {
	height, _, err := queryInt(r, "height")
	if err != nil {
		badParam(w, r, "%v", err)
		return
	}
	if !g.authorize(w, r, ReadRequest{Kind: ReadKV, Key: key, Height: height}) {
		return
	}
	val, h, p := g.ask(r, types.QueryGet, []byte(key), height)
	if p != nil {
		if p.Code == types.CodeNotFound.Name() {
			g.explainMissing(r, key, height, p)
		}
		writeProblem(w, r, p)
		return
	}
	var kv types.KV
	if err := kv.Unmarshal(val); err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemInternal, "decoding the node's answer: "+err.Error()))
		return
	}
	out := api.NewKV(kv, h)
	if r.URL.Query().Get("encoding") == api.EncodingBase64 && out.Value != "" {
		out.ValueBase64, out.Value = encodeBase64([]byte(out.Value)), ""
	}
	writeJSON(w, out)
}

// explainMissing fills the NOT_FOUND problem of GET /v1/kv/{key}: the key,
// and, when its newest version at the height read is a delete, that
// delete's version. The engine's get answers "not found" alike for a key
// never written and a deleted one; its history tells them apart. The
// history is read unsigned (a signed read header is good for the one query
// it signs), so on a chain with access control it is found only for keys
// "anyone" may read; otherwise the problem just says "not found".
func (g *Gateway) explainMissing(r *http.Request, key string, height int64, p *api.Problem) {
	p.Key = key
	req := types.HistoryRequest{Key: key, Limit: 1}
	if height != 0 {
		req.Before = types.Version{Height: uint64(height) + 1} // versions at or below height
	}
	data, err := req.Marshal()
	if err != nil {
		return
	}
	res, err := g.backend.Query(r.Context(), types.QueryHistory, data, 0)
	if err != nil || res.Code != 0 {
		return
	}
	var h types.History
	if h.Unmarshal(res.Value) != nil || len(h.Versions) == 0 {
		p.Detail = fmt.Sprintf("key %q has no value at height %d: it was never written", key, p.Height)
		return
	}
	if last := h.Versions[0]; last.Deleted {
		p.DeletedVersion = last.Version.Text()
		p.Detail = fmt.Sprintf("key %q was deleted at version %s (height %d, tx %d); its history keeps that delete and the earlier values, and a check of the key compares against version \"0\"",
			key, p.DeletedVersion, last.Version.Height, last.Version.TxIndex)
	}
}

func (g *Gateway) handleHistory(w http.ResponseWriter, r *http.Request, key string) {
	limit, _, err := queryInt(r, "limit")
	if err != nil {
		badParam(w, r, "%v", err)
		return
	}
	if limit > api.MaxHistoryLimit {
		writeProblem(w, r, api.QueryProblem(types.CodeBadQuery, fmt.Sprintf("limit=%d is above the largest page, %d: ask for at most %d and follow \"next\" (as ?before=) for more", limit, api.MaxHistoryLimit, api.MaxHistoryLimit)))
		return
	}
	req := types.HistoryRequest{Key: key, Limit: uint32(min(limit, 1<<31))}
	if s := r.URL.Query().Get("before"); s != "" {
		v, err := types.ParseVersion(s)
		if err != nil {
			badParam(w, r, "parameter before=%q: %v", s, err)
			return
		}
		req.Before = v
	}
	if !g.authorize(w, r, ReadRequest{Kind: ReadHistory, Key: key}) {
		return
	}
	data, err := req.Marshal()
	if err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemInternal, err.Error()))
		return
	}
	val, _ := g.query(w, r, types.QueryHistory, data, 0)
	if val == nil {
		return
	}
	var h types.History
	if err := h.Unmarshal(val); err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemInternal, "decoding the node's answer: "+err.Error()))
		return
	}
	if len(h.Versions) == 0 && req.Before.IsZero() {
		// As GET /v1/kv/{key} says for it: a key never written has no
		// history (a deleted key has one: its delete and earlier values).
		p := api.QueryProblem(types.CodeNotFound, fmt.Sprintf("key %q has no history: it was never written", key))
		p.Key = key
		writeProblem(w, r, p)
		return
	}
	out := api.History{Key: h.Key, Versions: make([]api.KV, len(h.Versions))}
	for i, kv := range h.Versions {
		out.Versions[i] = api.NewKV(kv, 0)
	}
	if !h.Next.IsZero() {
		out.Next = h.Next.Text()
	}
	writeJSON(w, out)
}

func (g *Gateway) handleTx(w http.ResponseWriter, r *http.Request, hashHex string) {
	if h, rec, ok := g.readTxResult(w, r, hashHex, ReadTx); ok {
		writeJSON(w, api.NewTxResult(h, rec))
	}
}

// readTxResult reads a committed tx's result for r (the read kind for the
// authorizer: ReadTx or ReadTxBytes), signed by its reader; false means a
// problem was written. h is the hash in upper-case hex.
func (g *Gateway) readTxResult(w http.ResponseWriter, r *http.Request, hashHex, kind string) (h string, rec types.TxResult, ok bool) {
	hash, err := hex.DecodeString(hashHex)
	if err != nil || len(hash) != 32 {
		badParam(w, r, "tx hash %q: want 64 hex digits", hashHex)
		return "", rec, false
	}
	h = hexUpper(hash)
	if !g.authorize(w, r, ReadRequest{Kind: kind, TxHash: h}) {
		return "", rec, false
	}
	val, _ := g.query(w, r, types.QueryTx, hash, 0)
	if val == nil {
		return "", rec, false
	}
	if err := rec.Unmarshal(val); err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemInternal, "decoding the node's answer: "+err.Error()))
		return "", rec, false
	}
	return h, rec, true
}

func (g *Gateway) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := g.backend.Status(r.Context())
	if err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemNotReady, err.Error()))
		return
	}
	n, _ := g.backend.MempoolSize()
	out := api.Status{
		ChainID: g.backend.ChainID(), LatestHeight: st.LatestHeight, CatchingUp: st.CatchingUp,
		Peers: st.Peers, MempoolTxs: n,
	}
	if !st.LatestBlockTime.IsZero() {
		out.LatestBlockTime = st.LatestBlockTime.UTC().Format(time.RFC3339Nano)
	}
	writeJSON(w, out)
}

func (g *Gateway) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]string{"status": "ok"})
}

func (g *Gateway) handleReadyz(w http.ResponseWriter, r *http.Request) {
	out := api.Ready{MinPeers: g.cfg.MinPeers}
	st, err := g.backend.Status(r.Context())
	if err != nil {
		out.Reasons = append(out.Reasons, "node status unavailable: "+err.Error())
	} else {
		out.Height, out.CatchingUp, out.Peers = st.LatestHeight, st.CatchingUp, st.Peers
		if st.CatchingUp {
			out.Reasons = append(out.Reasons, "catching up with the network")
		}
		if st.Peers < g.cfg.MinPeers {
			out.Reasons = append(out.Reasons, fmt.Sprintf("%d peers, want at least %d", st.Peers, g.cfg.MinPeers))
		}
	}
	select {
	case <-g.closing:
		out.Reasons = append(out.Reasons, "shutting down")
	default:
	}
	out.Ready = len(out.Reasons) == 0
	w.Header().Set("Content-Type", "application/json")
	if !out.Ready {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	writeJSON(w, out)
}

// handleIdentity answers the identity a key address acts for and the
// identity's key history (types.QueryIdentity, from committed state).
func (g *Gateway) handleIdentity(w http.ResponseWriter, r *http.Request, addr string) {
	if len(addr) != 40 {
		badParam(w, r, "address %q: want 40 hex digits (dstt keys show)", addr)
		return
	}
	if _, err := hex.DecodeString(addr); err != nil {
		badParam(w, r, "address %q: want 40 hex digits (dstt keys show)", addr)
		return
	}
	if !g.authorize(w, r, ReadRequest{Kind: ReadIdentity, Key: addr}) {
		return
	}
	var v types.IdentityView
	if g.queryJSON(w, r, types.QueryIdentity, []byte(strings.ToLower(addr)), &v) {
		if v.Keys == nil {
			v.Keys = []types.IdentityKey{} // never rotated: the address is its own identity
		}
		writeJSON(w, v)
	}
}

func (g *Gateway) handleOrgs(w http.ResponseWriter, r *http.Request) {
	if !g.authorize(w, r, ReadRequest{Kind: ReadOrgs}) {
		return
	}
	var v types.OrgsView
	if g.queryJSON(w, r, types.QueryOrgs, nil, &v) {
		if v.Orgs == nil {
			v.Orgs = []types.Org{}
		}
		writeJSON(w, v)
	}
}

func (g *Gateway) handleValidators(w http.ResponseWriter, r *http.Request) {
	if !g.authorize(w, r, ReadRequest{Kind: ReadValidators}) {
		return
	}
	var v []types.ValidatorView
	if g.queryJSON(w, r, types.QueryValidators, nil, &v) {
		if v == nil {
			v = []types.ValidatorView{}
		}
		writeJSON(w, v)
	}
}

// queryJSON runs a query whose answer is JSON (committed state) and
// decodes it into out; false means a problem was written.
func (g *Gateway) queryJSON(w http.ResponseWriter, r *http.Request, path string, data []byte, out any) bool {
	val, _ := g.query(w, r, path, data, 0)
	if val == nil {
		return false
	}
	if err := json.Unmarshal(val, out); err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemInternal, "decoding the node's answer: "+err.Error()))
		return false
	}
	return true
}
