package rest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/security/verify"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/types"
)

func hexUpper(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) }

// submitRequest is a decoded, validated POST /v1/txs.
type submitRequest struct {
	single  bool // the request used "tx", not "txs"
	commit  bool
	timeout time.Duration // 0: the gateway's default
	txs     [][]byte
}

// decodeSubmitRequest parses and validates a POST /v1/txs body. It never
// panics; every failure is a Problem naming the field (and tx index) at
// fault. maxTxs bounds the batch; maxTimeout the commit wait a request
// may ask for.
func decodeSubmitRequest(body []byte, maxTxs int, maxTimeout time.Duration) (submitRequest, *api.Problem) {
	var req api.SubmitRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return submitRequest{}, api.NewProblem(api.ProblemBadJSON, "want a JSON object like {\"txs\": [\"<base64 or hex tx>\", ...], \"mode\": \"sync\"}: "+jsonErrorText(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return submitRequest{}, api.NewProblem(api.ProblemBadJSON, "unexpected data after the JSON object")
	}
	var out submitRequest
	switch req.Mode {
	case "", api.ModeSync:
	case api.ModeCommit:
		out.commit = true
	default:
		return out, api.NewProblem(api.ProblemBadRequest, fmt.Sprintf("mode %q: want %q or %q", req.Mode, api.ModeSync, api.ModeCommit))
	}
	switch req.Encoding {
	case "", api.EncodingBase64, api.EncodingHex:
	default:
		return out, api.NewProblem(api.ProblemBadRequest, fmt.Sprintf("encoding %q: want %q, %q or none (auto)", req.Encoding, api.EncodingBase64, api.EncodingHex))
	}
	switch {
	case req.TimeoutMS < 0:
		return out, api.NewProblem(api.ProblemBadRequest, fmt.Sprintf("timeout_ms %d is negative", req.TimeoutMS))
	case req.TimeoutMS > 0 && !out.commit:
		return out, api.NewProblem(api.ProblemBadRequest, "timeout_ms only applies to mode \"commit\"")
	case req.TimeoutMS > maxTimeout.Milliseconds():
		return out, api.NewProblem(api.ProblemBadRequest, fmt.Sprintf("timeout_ms %d is above the gateway's limit of %d", req.TimeoutMS, maxTimeout.Milliseconds()))
	}
	out.timeout = time.Duration(req.TimeoutMS) * time.Millisecond
	strs := req.Txs
	switch {
	case req.Tx != "" && len(req.Txs) > 0:
		return out, api.NewProblem(api.ProblemBadRequest, "set either \"tx\" (one tx) or \"txs\" (a batch), not both")
	case req.Tx != "":
		strs, out.single = []string{req.Tx}, true
	case len(req.Txs) == 0:
		return out, api.NewProblem(api.ProblemBadRequest, "no transactions: set \"tx\" or \"txs\"")
	case len(req.Txs) > maxTxs:
		return out, api.NewProblem(api.ProblemTooManyTxs, fmt.Sprintf("%d txs in one request; the limit is %d: split the batch", len(req.Txs), maxTxs))
	}
	out.txs = make([][]byte, len(strs))
	for i, s := range strs {
		tx, err := decodeTxString(s, req.Encoding)
		if err != nil {
			p := api.NewProblem(api.ProblemBadTxEncoding, fmt.Sprintf("tx %d: %v", i, err))
			p.TxIndex = &i
			return submitRequest{}, p
		}
		out.txs[i] = tx
	}
	return out, nil
}

// decodeTxString decodes one tx as hex or base64 (auto: hex when every
// character is a hex digit and the length is even).
func decodeTxString(s, encoding string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty tx")
	}
	if encoding == "" {
		encoding = api.EncodingBase64
		if len(s)%2 == 0 && strings.IndexFunc(s, func(r rune) bool {
			return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F')
		}) < 0 {
			encoding = api.EncodingHex
		}
	}
	if encoding == api.EncodingHex {
		b, err := hex.DecodeString(s)
		if err != nil {
			return nil, fmt.Errorf("not hex: %v", err)
		}
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64 (standard or URL alphabet, padded or not) nor hex")
}

// jsonErrorText makes encoding/json's errors shorter and friendlier.
func jsonErrorText(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("syntax error at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	case errors.Is(err, io.EOF):
		return "empty body"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "truncated JSON"
	}
	return err.Error()
}

// readBody reads a JSON request body within the size limit.
func (g *Gateway) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *api.Problem) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, api.NewProblem(api.ProblemUnsupportedMedia, fmt.Sprintf("Content-Type %q: send application/json", ct))
		}
	}
	if r.ContentLength > g.cfg.MaxBodyBytes {
		return nil, api.NewProblem(api.ProblemBodyTooLarge, fmt.Sprintf("the body is %d bytes; the limit is %d: send smaller batches", r.ContentLength, g.cfg.MaxBodyBytes))
	}
	// The middleware set the read deadline (ReadBodyTimeout) for the body.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, api.NewProblem(api.ProblemBodyTooLarge, fmt.Sprintf("the body is over the limit of %d bytes: send smaller batches", g.cfg.MaxBodyBytes))
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, api.NewProblem(api.ProblemBadRequest, fmt.Sprintf("the body did not arrive within %s of the headers; the connection is closed", g.cfg.ReadBodyTimeout))
		}
		return nil, api.NewProblem(api.ProblemBadRequest, "reading the body: "+err.Error())
	}
	// Whole: lift the deadline, or it would end the request (net/http
	// cancels a request whose connection read fails) while it waits.
	_ = http.NewResponseController(w).SetReadDeadline(time.Time{})
	return body, nil
}

// verifyChunk is how many signatures precheck verifies at a time (in
// parallel); it stops at the first chunk with a bad one, so a request that
// fails costs at most one chunk beyond its last good signature.
const verifyChunk = 1024

// precheck runs the checks whose answer depends on nothing but the tx
// bytes, the chain id and the chain's limits, in two passes over the whole
// request. First every tx goes through types.ValidateTx, the node's own
// stateless check (size, canonical encoding, chain, signature count, key
// and signature lengths, signer order, op shapes and sizes): none of it
// verifies a signature, so a request refused there costs no more than
// reading it. Only then are signatures verified, through the node's
// verifier so CheckTx finds them cached, chunk by chunk. A failure rejects
// the whole request before anything reaches the mempool: these txs could
// never commit, whatever the state. It returns the decoded envelopes. A
// refusal is recorded in the node's security log (recordRefusal: bounded)
// as checktx_rejected, action "submit", with the code, the tx's hash and
// the client (who).
func (g *Gateway) precheck(ctx context.Context, txs [][]byte, who Identity) ([]*types.Tx, *api.Problem) {
	lim, err := g.txLimits(ctx)
	if err != nil {
		p := api.NewProblem(api.ProblemNotReady, "cannot read the chain's tx limits from the node: "+err.Error())
		p.RetryAfterSeconds = 1
		return nil, p
	}
	chainID := g.backend.ChainID()
	fail := func(i int, c types.Code, tx []byte, msg string) *api.Problem {
		hash := types.TxHash(tx)
		g.recordRefusal(audit.KindCheckTxRejected, audit.Fields{
			Actor: who.ID, Endpoint: who.Addr, Action: "submit", Code: uint32(c), CodeName: c.Name(),
			Message: clip(fmt.Sprintf("refused before admission: %s: %s", c.Message(), msg), maxRefusalMessage), TxHash: hash,
		})
		p := api.TxProblem(c, hexUpper(hash), 0, c.Message()+": "+msg)
		p.TxIndex = &i
		if len(txs) > 1 {
			p.Detail = fmt.Sprintf("tx %d of the batch: %s; nothing in the batch was submitted", i, p.Detail)
		}
		return p
	}
	decoded := make([]*types.Tx, len(txs))
	nsigs := 0
	for i, raw := range txs {
		tx, _, code, msg := types.ValidateTx(raw, chainID, lim)
		if code != types.CodeOK {
			return nil, fail(i, code, raw, msg)
		}
		decoded[i] = tx
		nsigs += len(tx.Signatures)
	}
	items := make([]verify.Item, 0, nsigs)
	owner := make([]int, 0, nsigs)
	for i, tx := range decoded {
		msg := types.SignBytes(chainID, tx.BodyBytes)
		for _, s := range tx.Signatures {
			items = append(items, verify.Item{PubKey: s.PubKey, Msg: msg, Sig: s.Signature})
			owner = append(owner, i)
		}
	}
	for lo := 0; lo < len(items); lo += verifyChunk {
		hi := min(lo+verifyChunk, len(items))
		var ok []bool
		if g.opts.Verifier != nil {
			ok = g.opts.Verifier.VerifyBatch(items[lo:hi])
		} else {
			ok = verify.Batch(items[lo:hi])
		}
		for k, good := range ok {
			if !good {
				i := owner[lo+k]
				return nil, fail(i, types.CodeBadSignature, txs[i], "a signature does not verify (was the tx changed after signing, or signed for another chain?)")
			}
		}
	}
	return decoded, nil
}

func (g *Gateway) handleSubmit(w http.ResponseWriter, r *http.Request) {
	body, p := g.readBody(w, r)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	req, p := decodeSubmitRequest(body, g.cfg.MaxBatchTxs, g.cfg.MaxCommitTimeout)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	decoded, p := g.precheck(r.Context(), req.txs, ClientIdentity(r))
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	mode := api.ModeSync
	if req.commit {
		mode = api.ModeCommit
	}
	g.metrics.submitted.WithLabelValues(mode).Add(float64(len(req.txs)))

	timeout := req.timeout
	if timeout == 0 {
		timeout = g.cfg.CommitTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	res := g.admit(ctx, req, decoded, ClientIdentity(r))
	res.Count()
	if req.single {
		if p := outcomeProblem(res.Results[0]); p != nil {
			writeProblem(w, r, p)
			return
		}
	}
	writeJSON(w, res)
}

// admission is one tx on its way through the mempool.
type admission struct {
	hash   [32]byte
	waiter *waiter
}

// admit hands the txs to the mempool in order and, in commit mode, waits
// for their blocks until ctx ends.
func (g *Gateway) admit(ctx context.Context, req submitRequest, decoded []*types.Tx, who Identity) api.SubmitResponse {
	res := api.SubmitResponse{Results: make([]api.TxOutcome, len(req.txs))}
	adm := make([]admission, len(req.txs))
	var full error // the mempool is full or the node not ready: refuse the rest
	chainID := g.backend.ChainID()
	first := make(map[[32]byte]int, len(req.txs)) // replay id -> first tx with it
	for i, tx := range req.txs {
		a, out := &adm[i], &res.Results[i]
		a.hash = sha256.Sum256(tx)
		out.Hash = hexUpper(a.hash[:])
		// The same signed body twice in one request (the same bytes, or
		// another envelope of it) is one tx: the copy is refused here, so
		// it is neither waited for twice nor counted twice.
		id := types.ReplayID(chainID, decoded[i].BodyBytes)
		if j, dup := first[id]; dup {
			g.refuseRepeat(out, j)
			continue
		}
		first[id] = i
		if full != nil {
			refuse(out, api.ProblemMempoolFull, full.Error())
			continue
		}
		a.waiter = g.hub.watch(a.hash, req.commit)
		check, err := g.checkTx(tx)
		switch {
		case err == nil:
			g.judgeCheckTx(ctx, a, check, out)
		case errors.Is(err, ErrTxInCache):
			g.metrics.refused.WithLabelValues("in_cache").Inc()
			g.alreadyKnown(ctx, a, out)
			g.recordDuplicate(decoded[i], a.hash[:], out, who)
		default:
			if g.refuseMempoolError(a, err, out) {
				full = err
			}
		}
	}
	if req.commit {
		g.awaitCommits(ctx, adm, res.Results)
	}
	nameCodes(res.Results)
	return res
}

// nameCodes fills in the code name of every outcome that has none.
func nameCodes(outs []api.TxOutcome) {
	for i := range outs {
		if o := &outs[i]; o.CodeName == "" {
			o.CodeName = types.Code(o.Code).Name()
		}
	}
}

// refuseRepeat refuses a tx whose signed body tx j of the same request
// carries already.
func (g *Gateway) refuseRepeat(out *api.TxOutcome, j int) {
	g.metrics.refused.WithLabelValues("duplicate_in_request").Inc()
	out.Status, out.Code, out.CodeName = api.StatusRejected, uint32(types.CodeReplay), types.CodeReplay.Name()
	out.Log = fmt.Sprintf("%s: tx %d of this request has the same signed body (the same replay identity); it is submitted once, as tx %d", types.CodeReplay.Message(), j, j)
	out.DuplicateOf = &j
}

// checkTx hands tx to the mempool and times the call. A nil response with
// a nil error means the answer comes later (a remote ABCI app).
func (g *Gateway) checkTx(tx []byte) (*abcitypes.ResponseCheckTx, error) {
	start := time.Now()
	var check *abcitypes.ResponseCheckTx
	err := g.backend.CheckTx(tx, func(r *abcitypes.ResponseCheckTx) { check = r })
	g.metrics.checkTxLatency.Observe(time.Since(start).Seconds())
	return check, err
}

// judgeCheckTx records the application's CheckTx answer in out: admitted,
// or rejected with the application's code (then nothing waits for the tx).
func (g *Gateway) judgeCheckTx(ctx context.Context, a *admission, check *abcitypes.ResponseCheckTx, out *api.TxOutcome) {
	if check == nil || check.Code == 0 {
		// A nil answer comes later (a remote ABCI app): not waited for.
		out.Status = api.StatusAdmitted
		return
	}
	g.unwatch(a)
	g.metrics.observeRejected(check.Code)
	out.Status, out.Code, out.CodeName, out.Log = api.StatusRejected, check.Code, types.Code(check.Code).Name(), check.Log
	if types.Code(check.Code) == types.CodeReplay {
		g.explainReplay(ctx, a.hash, out)
	}
}

// refuseMempoolError records in out why the mempool would not take the tx
// (err, other than ErrTxInCache). It reports whether err refuses the txs
// after it as well: the mempool is full or the node not ready.
func (g *Gateway) refuseMempoolError(a *admission, err error, out *api.TxOutcome) (refusesRest bool) {
	g.unwatch(a)
	reason := api.ProblemInternal
	switch {
	case errors.Is(err, ErrMempoolFull):
		reason, refusesRest = api.ProblemMempoolFull, true
	case errors.Is(err, ErrNotReady):
		reason, refusesRest = api.ProblemNotReady, true
	case errors.Is(err, ErrTxTooLarge):
		reason = api.ProblemBodyTooLarge
	}
	g.metrics.refused.WithLabelValues(strings.ToLower(reason)).Inc()
	refuse(out, reason, err.Error())
	return refusesRest
}

// unwatch stops waiting for a's block: its tx will not be committed
// through this request.
func (g *Gateway) unwatch(a *admission) {
	g.hub.forget(a.hash, a.waiter)
	a.waiter = nil
}

// awaitCommits waits, until ctx ends, for the block of every admitted tx
// that is watched and puts its outcome in outs[i]; a tx whose block has not
// come by then is pending.
func (g *Gateway) awaitCommits(ctx context.Context, adm []admission, outs []api.TxOutcome) {
	for i := range adm {
		a, out := &adm[i], &outs[i]
		if a.waiter == nil || out.Status != api.StatusAdmitted {
			continue
		}
		select {
		case o := <-a.waiter.ch:
			*out = o
		case <-ctx.Done():
			g.hub.forget(a.hash, a.waiter)
			// The block may have landed just now.
			select {
			case o := <-a.waiter.ch:
				*out = o
			default:
				out.Status = api.StatusPending
				out.Log = "admitted to the mempool but not committed before the timeout; poll GET /v1/txs/" + out.Hash
			}
		}
	}
}

func refuse(out *api.TxOutcome, code, log string) {
	out.Status, out.Code, out.CodeName, out.Log = api.StatusRejected, 0, code, log
}

// alreadyKnown handles a tx the mempool's cache holds: either it was
// committed before (then it is a replay, as CheckTx would say once the
// cache forgets it) or it is still waiting in the mempool (then it is
// admitted, and a commit-mode request waits for it like for any other).
// The committed tx results tell them apart.
func (g *Gateway) alreadyKnown(ctx context.Context, a *admission, out *api.TxOutcome) {
	rec, committed := g.committedTx(ctx, a.hash)
	if committed {
		g.unwatch(a)
		out.Status, out.Code, out.CodeName = api.StatusRejected, uint32(types.CodeReplay), types.CodeReplay.Name()
		out.Log = fmt.Sprintf("%s: tx %s was committed before", types.CodeReplay.Message(), out.Hash)
		describeReplay(rec, out)
		return
	}
	out.Status, out.Log = api.StatusAdmitted, "already in the mempool"
}

// explainReplay replaces the node's REPLAY text with what the client needs:
// the committed result of this tx (its envelope's hash, GET /v1/txs/{hash}),
// so that a tx which failed (e.g. CONFLICT) is not mistaken for one that
// applied. A replay by another envelope of the same signed body keeps the
// node's text: the committed envelope has another hash.
func (g *Gateway) explainReplay(ctx context.Context, hash [32]byte, out *api.TxOutcome) {
	rec, committed := g.committedTx(ctx, hash)
	if !committed {
		return
	}
	out.Log = fmt.Sprintf("%s: tx %s was committed before", types.CodeReplay.Message(), out.Hash)
	describeReplay(rec, out)
}

// committedTx reports whether the tx with this hash is committed and, when
// an unsigned reader may see it, its result (else rec is nil: a signed GET
// /v1/txs/{hash} shows it to those allowed). With Options.TxResults the
// node reads its own committed results in-process: a client's read is not
// involved, so nothing is refused or recorded, and the result is shown
// only on a chain without access control. Without it the gateway asks with
// an unsigned /tx query, which a chain with access control refuses (and
// records); the refusal, unlike NOT_FOUND, still says the tx is committed.
func (g *Gateway) committedTx(ctx context.Context, hash [32]byte) (rec *types.TxResult, committed bool) {
	if g.opts.TxResults != nil {
		r, err := g.opts.TxResults.TxResult(hash[:])
		if err != nil {
			return nil, false
		}
		if open, err := g.chainOpen(ctx); err != nil || !open {
			return nil, true
		}
		return &r, true
	}
	q, err := g.backend.Query(ctx, types.QueryTx, hash[:], 0)
	if err != nil || (q.Code != 0 && q.Code != uint32(types.CodeUnauthorized)) {
		return nil, false
	}
	var r types.TxResult
	if q.Code != 0 || r.Unmarshal(q.Value) != nil {
		return nil, true
	}
	return &r, true
}

// describeReplay adds the committed tx's result (nil: not to be shown) to
// a REPLAY outcome: Original and a Log that says how it ended.
func describeReplay(rec *types.TxResult, out *api.TxOutcome) {
	if rec == nil {
		out.Log += "; its result is readable with a signed GET /v1/txs/" + out.Hash + ". Nothing was submitted now: sign a new tx (a fresh nonce) to try again"
		return
	}
	orig := api.NewTxResult(out.Hash, *rec)
	out.Original = &orig
	if rec.Code == 0 {
		out.Log += fmt.Sprintf(": it committed at height %d (tx %d) with code OK and its writes stand; nothing was submitted now", rec.Height, rec.TxIndex)
		return
	}
	out.Log += fmt.Sprintf(": it FAILED at height %d (tx %d) with code %s, and nothing of it was applied (%s). Resubmitting it cannot change that: sign a new tx (a fresh nonce) to try again",
		rec.Height, rec.TxIndex, orig.CodeName, rec.Log)
}

// outcomeProblem turns a single tx's non-OK outcome into the Problem the
// client gets instead of a SubmitResponse.
func outcomeProblem(o api.TxOutcome) *api.Problem {
	switch o.Status {
	case api.StatusCommitted, api.StatusAdmitted:
		return nil
	case api.StatusPending:
		p := api.NewProblem(api.ProblemCommitTimeout, o.Log)
		p.TxHash = o.Hash
		return p
	case api.StatusRejected, api.StatusFailed:
		if o.Code == 0 {
			p := api.NewProblem(o.CodeName, o.Log)
			p.TxHash = o.Hash
			switch o.CodeName {
			case api.ProblemMempoolFull, api.ProblemNotReady:
				p.RetryAfterSeconds = 1
			}
			return p
		}
		p := api.TxProblem(types.Code(o.Code), o.Hash, o.Height, o.Log)
		p.DuplicateOf, p.Original = o.DuplicateOf, o.Original
		if o.Original != nil && p.Height == 0 {
			p.Height = o.Original.Height // the block the replayed tx is in
		}
		if o.Status == api.StatusFailed {
			p.Detail = fmt.Sprintf("failed in block %d, nothing applied: %s", o.Height, o.Log)
		} else {
			p.Detail = "refused by the mempool (CheckTx), nothing applied: " + o.Log
		}
		return p
	}
	return api.NewProblem(api.ProblemInternal, "unknown outcome "+o.Status)
}

// maxRefusalMessage bounds the message of a refusal the gateway records:
// part of it may come from the client's bytes.
const maxRefusalMessage = 512

// clip shortens s to at most n bytes, at a UTF-8 boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// recordDuplicate records, in the node's security log, a tx the mempool's
// cache dropped as a duplicate before the application saw it (so CheckTx
// could not record it): a replay of a committed tx, or a resubmission of
// one still waiting in the mempool.
func (g *Gateway) recordDuplicate(tx *types.Tx, hash []byte, out *api.TxOutcome, who Identity) {
	var signer string
	if tx != nil && len(tx.Signatures) > 0 {
		signer = types.Address(tx.Signatures[0].PubKey)
	}
	msg := "duplicate dropped by the mempool cache, from " + who.ID + ": "
	if out.Code == uint32(types.CodeReplay) {
		msg += out.Log
	} else {
		msg += "the same tx is still waiting in the mempool"
	}
	g.recordRefusal(audit.KindCheckTxRejected, audit.Fields{
		Actor: signer, Endpoint: who.Addr, Action: "check_tx", Resources: []string{who.ID}, Code: uint32(types.CodeReplay),
		CodeName: types.CodeReplay.Name(), Message: msg, TxHash: hash,
	})
}
