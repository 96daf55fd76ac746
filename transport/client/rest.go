package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

// restConn reaches a node through its REST gateway.
type restConn struct {
	base string // no trailing slash
	hc   *http.Client
}

func newRESTConn(baseURL string, hc *http.Client, tc *tls.Config) (*restConn, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%w: REST address %q: want http(s)://HOST:PORT", ErrUnreachable, baseURL)
	}
	if hc == nil {
		tr := &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:     tc,
			MaxIdleConns:        1024,
			MaxIdleConnsPerHost: 1024,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
			ForceAttemptHTTP2:   false,
		}
		hc = &http.Client{Transport: tr}
	}
	return &restConn{base: strings.TrimRight(baseURL, "/"), hc: hc}, nil
}

// send sends req, with sr as its Authorization when set. An answer other
// than 200 comes back as the problem document's error, its body closed;
// otherwise the caller closes the body.
func (r *restConn) send(req *http.Request, sr *api.SignedRead) (*http.Response, error) {
	if sr != nil {
		req.Header.Set("Authorization", sr.String())
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, Unreachable(r.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, problemError(resp)
	}
	return resp, nil
}

// do sends a request and decodes a JSON answer into out, or the problem
// document into an error wrapping the matching sentinel.
func (r *restConn) do(ctx context.Context, method, path string, body any, sr *api.SignedRead, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, r.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.send(req, sr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%w: decode answer: %v", ErrQuery, err)
	}
	return nil
}

// problemError reads a problem document and wraps it in the sentinel its
// code calls for.
func problemError(resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusBadRequest && bytes.Contains(body, []byte("Client sent an HTTP request to an HTTPS server")) {
		return fmt.Errorf("%w with %s: the node serves HTTPS there: use https:// (and --ca if its CA is not a system root)", ErrTLS, resp.Request.URL.Host)
	}
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil || p.Code == "" {
		p = api.Problem{Status: resp.StatusCode, Title: http.StatusText(resp.StatusCode), Code: api.ProblemInternal, Detail: strings.TrimSpace(string(body))}
	}
	return wrapProblem(&p)
}

func wrapProblem(p *api.Problem) error {
	var sentinel error
	switch p.Code {
	case types.CodeNotFound.Name():
		sentinel = ErrNotFound
	case types.CodeUnauthorized.Name(), api.ProblemForbidden, api.ProblemCertRequired:
		sentinel = ErrUnauthorized
	case api.ProblemRateLimited, api.ProblemMempoolFull, api.ProblemNotReady, api.ProblemTooManyStreams, api.ProblemEventsLagged:
		sentinel = ErrBusy
	case api.ProblemCommitTimeout:
		sentinel = ErrCommitTimeout
	default:
		if p.TxCode != nil {
			return &TxError{Hash: p.TxHash, Height: p.Height, Code: types.Code(*p.TxCode), Log: p.Detail, Stage: "check"}
		}
		sentinel = ErrQuery
	}
	return fmt.Errorf("%w: %w", sentinel, p)
}

func (r *restConn) ChainInfo(ctx context.Context) (ChainInfo, error) {
	var st api.Status
	if err := r.do(ctx, http.MethodGet, api.PathStatus, nil, nil, &st); err != nil {
		return ChainInfo{}, err
	}
	return ChainInfo{ChainID: st.ChainID, LatestHeight: st.LatestHeight}, nil
}

func (r *restConn) Broadcast(ctx context.Context, txs [][]byte, commit bool) ([]api.TxOutcome, error) {
	req := api.SubmitRequest{Txs: make([]string, len(txs)), Mode: api.ModeSync, Encoding: api.EncodingBase64}
	if commit {
		req.Mode = api.ModeCommit
		if dl, ok := ctx.Deadline(); ok {
			// Ask the gateway to answer (with "pending") a little before
			// the caller gives up, within its limit (MaxCommitWait).
			req.TimeoutMS = max(1, min(time.Until(dl).Milliseconds()-50, MaxCommitWait.Milliseconds()))
		}
	}
	for i, tx := range txs {
		req.Txs[i] = base64.StdEncoding.EncodeToString(tx)
	}
	var res api.SubmitResponse
	if err := r.do(ctx, http.MethodPost, api.PathTxs, req, nil, &res); err != nil {
		return nil, err
	}
	if len(res.Results) != len(txs) {
		return nil, fmt.Errorf("%w: %d results for %d txs", ErrQuery, len(res.Results), len(txs))
	}
	return res.Results, nil
}

func kvPath(key string) string { return api.PathKV + url.PathEscape(key) }

func (r *restConn) Get(ctx context.Context, key string, height int64, sr *api.SignedRead) (types.KV, int64, error) {
	p := kvPath(key)
	if height > 0 {
		p += "?height=" + strconv.FormatInt(height, 10)
	}
	var kv api.KV
	if err := r.do(ctx, http.MethodGet, p, nil, sr, &kv); err != nil {
		var prob *api.Problem
		if errors.As(err, &prob) {
			return types.KV{}, prob.Height, err
		}
		return types.KV{}, 0, err
	}
	out, err := kv.Types()
	if err != nil {
		return types.KV{}, 0, fmt.Errorf("%w: decode answer: %v", ErrQuery, err)
	}
	return out, kv.Height, nil
}

func (r *restConn) History(ctx context.Context, req types.HistoryRequest, sr *api.SignedRead) (types.History, error) {
	q := url.Values{}
	if req.Limit > 0 {
		q.Set("limit", strconv.FormatUint(uint64(req.Limit), 10))
	}
	if !req.Before.IsZero() {
		q.Set("before", req.Before.Text())
	}
	p := kvPath(req.Key) + "/history"
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var h api.History
	if err := r.do(ctx, http.MethodGet, p, nil, sr, &h); err != nil {
		return types.History{}, err
	}
	out := types.History{Key: h.Key, Versions: make([]types.KV, len(h.Versions))}
	for i, v := range h.Versions {
		kv, err := v.Types()
		if err != nil {
			return types.History{}, fmt.Errorf("%w: decode answer: %v", ErrQuery, err)
		}
		out.Versions[i] = kv
	}
	if h.Next != "" {
		v, err := types.ParseVersion(h.Next)
		if err != nil {
			return types.History{}, fmt.Errorf("%w: decode answer: %v", ErrQuery, err)
		}
		out.Next = v
	}
	return out, nil
}

func (r *restConn) Tx(ctx context.Context, hash []byte, sr *api.SignedRead) (types.TxResult, error) {
	var res api.TxResult
	if err := r.do(ctx, http.MethodGet, api.PathTxs+"/"+strings.ToUpper(hex.EncodeToString(hash)), nil, sr, &res); err != nil {
		return types.TxResult{}, err
	}
	ws, err := api.TypesWrites(res.Writes)
	if err != nil {
		return types.TxResult{}, fmt.Errorf("%w: decode answer: %v", ErrQuery, err)
	}
	return types.TxResult{Height: uint64(res.Height), TxIndex: res.Index, Code: res.Code, Log: res.Log, Writes: ws, Signer: res.Signer}, nil
}

// Raw serves the query paths the gateway has a route for (identities,
// validators, orgs); the others need the CometBFT RPC.
func (r *restConn) Raw(ctx context.Context, path string, data []byte, sr *api.SignedRead) ([]byte, error) {
	var route string
	switch path {
	case types.QueryIdentity:
		route = api.PathIdentities + url.PathEscape(string(data))
	case types.QueryValidators:
		route = api.PathValidators
	case types.QueryOrgs:
		route = api.PathOrgs
	default:
		gtx, ok, err := gtxRoute(path, data)
		if err != nil {
			return nil, fmt.Errorf("%w: %s request: %v", ErrQuery, path, err)
		}
		if ok {
			return r.getProto(ctx, gtx, sr)
		}
		return nil, fmt.Errorf("%w: the raw ABCI query %s needs the CometBFT RPC (tcp://)", ErrUnsupported, path)
	}
	var out json.RawMessage
	if err := r.do(ctx, http.MethodGet, route, nil, sr, &out); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *restConn) Close() error {
	r.hc.CloseIdleConnections()
	return nil
}

// ErrStreamEnded: the node closed an event stream without an error (a
// Subscription reconnects).
var ErrStreamEnded = errors.New("client: event stream ended")
