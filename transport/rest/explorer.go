package rest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

// The explorer's routes (transport/api/explorer.go): the consensus audit
// log and its anchors in signed commits, the policy, a tx's bytes, and the
// web explorer's static files at /ui (ui.go). Each read is decided by the
// node, as every other read: the gateway forwards the client's signed query.

// Route names of the explorer's endpoints.
const (
	routeAuditEntries = "audit_entries"
	routeAuditAnchor  = "audit_anchor"
	routePolicy       = "policy"
	routeTxBytes      = "tx_raw"
	routeUI           = "ui"
)

// Read kinds of the explorer's endpoints in a ReadRequest.
const (
	ReadAudit       = "audit"        // GET /v1/audit/entries
	ReadAuditAnchor = "audit_anchor" // GET /v1/audit/anchor (Height)
	ReadPolicy      = "policy"       // GET /v1/rbac/policy
	ReadTxBytes     = "tx_raw"       // GET /v1/txs/{hash}/raw
)

// explorerRoutes are appended to routes (and documented in openapi.json).
var explorerRoutes = []routeSpec{
	{http.MethodGet, api.PathAuditEntries, routeAuditEntries},
	{http.MethodGet, api.PathAuditAnchor, routeAuditAnchor},
	{http.MethodGet, api.PathPolicy, routePolicy},
	{http.MethodGet, api.PathTxs + "/{hash}" + api.PathTxBytesTail, routeTxBytes},
}

// matchExplorer is match for the explorer's paths; routeNone when none is.
func matchExplorer(escapedPath string) (name, param string) {
	switch escapedPath {
	case api.PathAuditEntries:
		return routeAuditEntries, ""
	case api.PathAuditAnchor:
		return routeAuditAnchor, ""
	case api.PathPolicy:
		return routePolicy, ""
	}
	if escapedPath == api.PathUI || strings.HasPrefix(escapedPath, api.PathUI+"/") {
		return routeUI, ""
	}
	if rest, ok := strings.CutPrefix(escapedPath, api.PathTxs+"/"); ok {
		if h, ok := strings.CutSuffix(rest, api.PathTxBytesTail); ok && h != "" && !strings.Contains(h, "/") {
			return routeTxBytes, h
		}
	}
	return routeNone, ""
}

// routeExplorer serves the explorer's API routes.
func (g *Gateway) routeExplorer(w http.ResponseWriter, r *http.Request, name, param string) {
	switch name {
	case routeAuditEntries:
		g.handleAuditEntries(w, r)
	case routeAuditAnchor:
		g.handleAuditAnchor(w, r)
	case routePolicy:
		g.handlePolicy(w, r)
	case routeTxBytes:
		g.handleTxBytes(w, r, param)
	}
}

// handleAuditEntries answers a page of the consensus audit log
// (audit.QueryEntries), for readers with read permission on
// types.AuditReadKey.
func (g *Gateway) handleAuditEntries(w http.ResponseWriter, r *http.Request) {
	from, _, err := queryInt(r, "from")
	if err != nil {
		badParam(w, r, "%v", err)
		return
	}
	limit, _, err := queryInt(r, "limit")
	if err != nil || limit > audit.MaxPage {
		badParam(w, r, "parameter limit=%q: want 0 to %d (0: %d)", r.URL.Query().Get("limit"), audit.MaxPage, audit.DefaultPage)
		return
	}
	if !g.authorize(w, r, ReadRequest{Kind: ReadAudit, Key: types.AuditReadKey}) {
		return
	}
	val, _ := g.query(w, r, audit.QueryEntries, audit.EntriesRequest{From: uint64(from), Limit: uint32(limit)}.Encode(), 0)
	if val == nil {
		return
	}
	page, err := audit.DecodeEntriesResponse(val)
	if err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemInternal, "decoding the node's answer: "+err.Error()))
		return
	}
	out := api.AuditPage{HeadSeq: page.Head.Seq, HeadHash: hex.EncodeToString(page.Head.Hash), Entries: make([]json.RawMessage, 0, len(page.Entries))}
	for i := range page.Entries {
		b, err := page.Entries[i].MarshalJSON()
		if err != nil {
			writeProblem(w, r, api.NewProblem(api.ProblemInternal, "encoding an entry: "+err.Error()))
			return
		}
		out.Entries = append(out.Entries, b)
	}
	writeJSON(w, out)
}

func (g *Gateway) handlePolicy(w http.ResponseWriter, r *http.Request) {
	if !g.authorize(w, r, ReadRequest{Kind: ReadPolicy}) {
		return
	}
	var v types.PolicyView
	if g.queryJSON(w, r, types.QueryPolicy, nil, &v) {
		if v.Rules == nil {
			v.Rules = []types.RuleView{}
		}
		if v.Grants == nil {
			v.Grants = []types.GrantView{}
		}
		writeJSON(w, v)
	}
}

// handleTxBytes answers a committed tx's bytes from the block store, to a
// reader the node lets read the tx's result (the same signed /tx query as
// GET /v1/txs/{hash}): its signer, readers of every key it wrote, or, for
// a tx that wrote nothing, policy readers.
func (g *Gateway) handleTxBytes(w http.ResponseWriter, r *http.Request, hashHex string) {
	h, rec, ok := g.readTxResult(w, r, hashHex, ReadTxBytes)
	if !ok {
		return
	}
	hash, _ := hex.DecodeString(h)
	b, err := g.backend.LoadBlock(r.Context(), int64(rec.Height))
	if err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemNotReady, err.Error()))
		return
	}
	if int(rec.TxIndex) >= len(b.Txs) || sha256.Sum256(b.Txs[rec.TxIndex]) != [sha256.Size]byte(hash) {
		writeProblem(w, r, api.NewProblem(api.ProblemInternal, fmt.Sprintf("block %d holds no tx %s at index %d", rec.Height, h, rec.TxIndex)))
		return
	}
	out := api.TxBytes{Hash: h, Height: int64(rec.Height), Index: rec.TxIndex, Tx: encodeBase64(b.Txs[rec.TxIndex])}
	if !b.Time.IsZero() {
		out.BlockTime = b.Time.UTC().Format(time.RFC3339Nano)
	}
	writeJSON(w, out)
}

// CommitSource is what a Backend offers when it can prove audit heads
// against the validators' signed commits; CometBackend does.
type CommitSource interface {
	Commits() audit.CommitFetcher
}

// Commits implements CommitSource over the node's in-process RPC client.
func (b *CometBackend) Commits() audit.CommitFetcher { return audit.NewRPCCommitFetcher(b.rpc) }

// recordingFetcher remembers the signed header it fetched, to report who
// signed it.
type recordingFetcher struct {
	audit.CommitFetcher
	sh   *cmttypes.SignedHeader
	vals *cmttypes.ValidatorSet
}

func (f *recordingFetcher) ValidatorSet(ctx context.Context, height int64) (*cmttypes.ValidatorSet, error) {
	vals, err := f.CommitFetcher.ValidatorSet(ctx, height)
	f.vals = vals
	return vals, err
}

func (f *recordingFetcher) SignedHeader(ctx context.Context, height int64) (*cmttypes.SignedHeader, error) {
	sh, err := f.CommitFetcher.SignedHeader(ctx, height)
	f.sh = sh
	return sh, err
}

// handleAuditAnchor proves the audit head after block ?height=H (default:
// the last committed height but one, the newest whose next block exists)
// against block H+1's signed commit with audit.VerifyAgainstCommit. The
// head is public state (its app hash is in every block header); a failed
// proof is an answer (verified false, with the failure), not an error.
func (g *Gateway) handleAuditAnchor(w http.ResponseWriter, r *http.Request) {
	height, given, err := queryInt(r, "height")
	if err != nil {
		badParam(w, r, "%v", err)
		return
	}
	committed, err := g.backend.CommittedHeight(r.Context())
	if err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemNotReady, "the node did not answer: "+err.Error()))
		return
	}
	if !given {
		height = max(committed-1, 1)
	}
	if !g.authorize(w, r, ReadRequest{Kind: ReadAuditAnchor, Height: height}) {
		return
	}
	val, _ := g.query(w, r, audit.QueryHead, nil, height)
	if val == nil {
		return
	}
	head, err := audit.DecodeHeadResponse(val)
	if err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemInternal, "decoding the node's answer: "+err.Error()))
		return
	}
	out := api.AuditAnchor{
		Height: head.Height, StateHash: hex.EncodeToString(head.StateHash),
		HeadSeq: head.Head.Seq, HeadHash: hex.EncodeToString(head.Head.Hash), SignedHeight: int64(head.Height) + 1,
	}
	src, ok := g.backend.(CommitSource)
	switch {
	case !ok:
		out.Failure, out.Detail = api.AnchorUnavailable, "this node's gateway cannot read signed commits"
	case out.SignedHeight > committed:
		out.Failure, out.Detail = api.AnchorNotSignedYet, fmt.Sprintf("block %d, whose header signs the state after block %d, is not committed yet", out.SignedHeight, head.Height)
	default:
		g.proveAnchor(r.Context(), src, head, &out)
	}
	writeJSON(w, out)
}

// proveAnchor runs audit.VerifyAgainstCommit and fills out with its result.
func (g *Gateway) proveAnchor(ctx context.Context, src CommitSource, head audit.HeadResponse, out *api.AuditAnchor) {
	f := &recordingFetcher{CommitFetcher: src.Commits()}
	a, err := audit.VerifyAgainstCommit(ctx, f, g.backend.ChainID(), head, audit.CommitOptions{})
	out.AppHash, out.BlockHash, out.ValidatorsHash = hex.EncodeToString(a.AppHash), hex.EncodeToString(a.BlockHash), hex.EncodeToString(a.ValidatorsHash)
	out.Validators, out.TotalPower = a.Validators, a.TotalPower
	if sh := f.sh; sh != nil && sh.Header != nil && sh.Commit != nil {
		if f.vals != nil {
			out.Proof = commitProof(sh, f.vals)
		}
		out.AppHash = hex.EncodeToString(sh.AppHash)
		out.BlockTime = sh.Time.UTC().Format(time.RFC3339Nano)
		for _, s := range sh.Commit.Signatures {
			if s.BlockIDFlag != cmttypes.BlockIDFlagCommit {
				continue
			}
			out.Signers = append(out.Signers, s.ValidatorAddress.String())
			if f.vals != nil {
				if _, v := f.vals.GetByAddress(s.ValidatorAddress); v != nil {
					out.SignedPower += v.VotingPower
				}
			}
		}
	}
	if err == nil {
		out.Verified = true
		return
	}
	out.Detail = err.Error()
	switch {
	case errors.Is(err, audit.ErrAppHash):
		out.Failure = api.AnchorAppHash
	case errors.Is(err, audit.ErrCommit):
		out.Failure = api.AnchorCommit
	case errors.Is(err, audit.ErrValidators):
		out.Failure = api.AnchorValidators
	default:
		out.Failure = api.AnchorUnavailable
	}
}
