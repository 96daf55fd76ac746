package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

// Reads are decided by the node, never by the gateway: a read with a
// Dstt-Query Authorization header is sent to the application as the signed
// query it stands for (types.QuerySigned), one without as a plain query; the
// application's access control answers either way.

// signedRead parses r's Authorization header; nil when there is none.
func signedRead(r *http.Request) (*api.SignedRead, *api.Problem) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return nil, nil
	}
	sr, err := api.ParseAuthorization(h)
	if err != nil {
		p := api.QueryProblem(types.CodeUnauthorized, err.Error())
		return nil, p
	}
	return &sr, nil
}

// queryAs runs the inner query, signed by the request's reader if it has one.
func (g *Gateway) queryAs(ctx context.Context, sr *api.SignedRead, path string, data []byte, height int64) (*abcitypes.ResponseQuery, error) {
	if sr == nil {
		return g.backend.Query(ctx, path, data, height)
	}
	sq := sr.Query(path, data, height)
	b, err := sq.Marshal()
	if err != nil {
		return nil, err
	}
	return g.backend.Query(ctx, types.QuerySigned, b, 0)
}

// streamAuth is how an event stream's writes are filtered: not at all on a
// chain without access control, else by the reader's read permission on
// each key ("" reader: an unsigned subscriber, who sees what "anyone" may
// read).
type streamAuth struct {
	filter bool
	reader string
}

// authorizeStream authenticates a subscriber (through the node) and says
// how to filter its stream; false means a problem was written.
func (g *Gateway) authorizeStream(w http.ResponseWriter, r *http.Request, prefix string) (streamAuth, bool) {
	sr, p := signedRead(r)
	if p != nil {
		writeProblem(w, r, p)
		return streamAuth{}, false
	}
	if sr == nil {
		open, err := g.chainOpen(r.Context())
		if err != nil {
			writeProblem(w, r, api.NewProblem(api.ProblemNotReady, "the node did not answer: "+err.Error()))
			return streamAuth{}, false
		}
		return streamAuth{filter: !open}, true
	}
	reader := types.Address(sr.PubKey)
	path, data := api.EventsQuery(reader, prefix)
	res, err := g.queryAs(r.Context(), sr, path, data, 0)
	if err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemNotReady, "the node did not answer: "+err.Error()))
		return streamAuth{}, false
	}
	if res.Code != 0 {
		writeProblem(w, r, api.QueryProblem(types.Code(res.Code), res.Log))
		return streamAuth{}, false
	}
	var cr types.CheckResult
	if err := json.Unmarshal(res.Value, &cr); err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemInternal, "decoding the node's answer: "+err.Error()))
		return streamAuth{}, false
	}
	return streamAuth{filter: !cr.Open, reader: reader}, true
}

// chainOpen asks the node whether access control is off.
func (g *Gateway) chainOpen(ctx context.Context) (bool, error) {
	res, err := g.backend.Query(ctx, types.QueryParams, nil, 0)
	if err != nil {
		return false, err
	}
	if res.Code != 0 {
		return false, fmt.Errorf("params query: %s", res.Log)
	}
	var rec struct {
		Open bool `json:"open"`
	}
	if err := json.Unmarshal(res.Value, &rec); err != nil {
		return false, err
	}
	return rec.Open, nil
}

// policyChecker answers "may reader read key?" for event filtering by
// asking the node (types.QueryCheck, signed with a throwaway gateway key
// that needs no permission: the query answers for the subject it names).
// Answers are cached until a committed block changes the policy (the
// hub's policy epoch moves).
type policyChecker struct {
	backend Backend
	key     *security.LocalSigner
	now     func() time.Time

	mu     sync.Mutex
	epoch  uint64
	cache  map[[2]string]bool
	lastMs int64
}

const policyCacheMax = 100_000

func newPolicyChecker(b Backend) (*policyChecker, error) {
	k, err := security.GenerateKey()
	if err != nil {
		return nil, err
	}
	return &policyChecker{backend: b, key: k, now: time.Now, cache: make(map[[2]string]bool)}, nil
}

// canRead reports the node's answer as of policy epoch epoch.
func (p *policyChecker) canRead(ctx context.Context, epoch uint64, reader, key string) (bool, error) {
	k := [2]string{reader, key}
	p.mu.Lock()
	if epoch != p.epoch || len(p.cache) > policyCacheMax {
		p.epoch, p.cache = epoch, make(map[[2]string]bool)
	}
	if ok, hit := p.cache[k]; hit {
		p.mu.Unlock()
		return ok, nil
	}
	// Each signed query is single-use: give every one its own timestamp.
	ms := max(p.now().UnixMilli(), p.lastMs+1)
	p.lastMs = ms
	p.mu.Unlock()

	data, _ := json.Marshal(types.CheckRequest{Subject: reader, Action: "read", Key: key})
	sr, err := api.SignRead(p.key, p.backend.ChainID(), types.QueryCheck, data, 0, time.UnixMilli(ms))
	if err != nil {
		return false, err
	}
	sq := sr.Query(types.QueryCheck, data, 0)
	b, err := sq.Marshal()
	if err != nil {
		return false, err
	}
	res, err := p.backend.Query(ctx, types.QuerySigned, b, 0)
	if err != nil {
		return false, err
	}
	if res.Code != 0 {
		return false, fmt.Errorf("rest: policy check: %s", res.Log)
	}
	var cr types.CheckResult
	if err := json.Unmarshal(res.Value, &cr); err != nil {
		return false, err
	}
	allowed := cr.Allowed || cr.Open
	p.mu.Lock()
	if p.epoch == epoch {
		p.cache[k] = allowed
	}
	p.mu.Unlock()
	return allowed, nil
}

// changesPolicy reports whether a committed block holds a tx that changed
// the access-control policy.
func changesPolicy(b Block) bool {
	for i, tx := range b.Txs {
		if i >= len(b.Results) || b.Results[i] == nil || b.Results[i].Code != 0 {
			continue
		}
		_, body, err := types.DecodeTx(tx)
		if err != nil {
			continue
		}
		for _, op := range body.Ops {
			switch op.Sum.(type) {
			case *types.Op_Grant, *types.Op_Revoke, *types.Op_Policy:
				return true
			}
		}
	}
	return false
}
