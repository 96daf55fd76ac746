package participant

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/branchapi"
	"github.com/dstt/dstt/types"
)

// Branch is one branch operation as the participant's function sees it.
type Branch struct {
	GID       string
	Branch    uint32
	Operation string // branchapi.OpAction, OpCompensate, OpTry, OpConfirm or OpCancel
	// Attempt is the chain's attempt at this step (it grows only when a
	// compensate, confirm or cancel answered Failed); the barrier ignores it.
	Attempt uint32
	Payload []byte
}

// Answer is what a branch function decides; build it with Succeeded,
// Failed or NotYet.
type Answer struct {
	Outcome string // a branchapi.Outcome* value
	Result  []byte // opaque; recorded on the chain with a definite answer
}

// Succeeded: the operation took effect; its writes commit with the barrier row.
func Succeeded(result []byte) Answer { return Answer{branchapi.OutcomeSucceeded, result} }

// Failed: the operation cannot take effect for a business reason (say,
// insufficient funds); its writes roll back. Only action and try may fail.
func Failed(result []byte) Answer { return Answer{branchapi.OutcomeFailed, result} }

// NotYet: ask again later; the writes roll back and nothing is recorded.
func NotYet() Answer { return Answer{Outcome: branchapi.OutcomeNotYet} }

// BranchFunc runs one operation inside tx, the participant's own SQL
// transaction, which also holds the barrier row. It must do all its work
// through tx and must not commit or roll it back. An error (not a business
// failure: a lost connection, a deadlock) rolls back and answers 503, and
// the executor asks again.
type BranchFunc func(ctx context.Context, tx *sql.Tx, b Branch) (Answer, error)

// Config configures a Participant.
type Config struct {
	// ChainID and ID (the participant id registered on the chain) must
	// match every request.
	ChainID string
	ID      string
	// DB is the participant's own database (PostgreSQL through pgx's
	// database/sql driver).
	DB *sql.DB
	// Signer is the participant key registered on the chain; it signs
	// every definite answer.
	Signer security.Signer
	// Executors are the ed25519 public keys whose requests are served.
	Executors [][]byte
	// BarrierTable is the barrier table (default DefaultBarrierTable).
	BarrierTable string
	// TxOptions are the options of each branch transaction (nil: the
	// database's default isolation).
	TxOptions *sql.TxOptions
	// Logger records refused requests and faults (nil: discard).
	Logger *slog.Logger
	// Now is the clock the request times are checked against (nil: time.Now).
	Now func() time.Time
}

// Validate reports every problem of c at once.
func (c Config) Validate() error {
	var errs []error
	if c.ChainID == "" {
		errs = append(errs, errors.New("chain id (ChainID) is empty"))
	}
	if c.ID == "" {
		errs = append(errs, errors.New("participant id (ID) is empty"))
	}
	if c.DB == nil {
		errs = append(errs, errors.New("no database (DB)"))
	}
	if c.Signer == nil {
		errs = append(errs, errors.New("no participant key (Signer)"))
	}
	if len(c.Executors) == 0 {
		errs = append(errs, errors.New("no Executors: no request could be served"))
	}
	if c.BarrierTable != "" && !tableName.MatchString(c.BarrierTable) {
		errs = append(errs, fmt.Errorf("BarrierTable %q is not a plain [schema.]table name", c.BarrierTable))
	}
	if len(errs) > 0 {
		return fmt.Errorf("participant: config: %w", errors.Join(errs...))
	}
	return nil
}

// Participant serves branch operations over HTTP (it is an http.Handler).
// It is safe for concurrent use; register functions before serving.
type Participant struct {
	cfg   Config
	mu    sync.RWMutex
	funcs map[string]BranchFunc
}

// New validates cfg and returns a participant with no functions yet.
func New(cfg Config) (*Participant, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.BarrierTable == "" {
		cfg.BarrierTable = DefaultBarrierTable
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Participant{cfg: cfg, funcs: map[string]BranchFunc{}}, nil
}

// Handle registers fn for operation op (a branchapi.Op* name).
func (p *Participant) Handle(op string, fn BranchFunc) {
	if !branchapi.ValidOperation(op) {
		panic(fmt.Sprintf("participant: Handle(%q): not an operation", op))
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.funcs[op] = fn
}

// Run executes one branch operation behind the barrier and signs a
// definite answer; ServeHTTP calls it after authenticating the request.
func (p *Participant) Run(ctx context.Context, b Branch) (branchapi.Answer, error) {
	p.mu.RLock()
	fn := p.funcs[b.Operation]
	p.mu.RUnlock()
	if fn == nil {
		return branchapi.Answer{}, fmt.Errorf("%w: %q", errNoHandler, b.Operation)
	}
	ans, err := p.run(ctx, b, fn)
	if err != nil {
		return branchapi.Answer{}, err
	}
	out := branchapi.Answer{Outcome: ans.Outcome, Result: ans.Result}
	if out.Definite() {
		req := branchapi.Request{ChainID: p.cfg.ChainID, GID: b.GID, Branch: b.Branch, Operation: b.Operation,
			Attempt: b.Attempt, Participant: p.cfg.ID, Payload: b.Payload}
		sig, err := p.cfg.Signer.Sign(req.SignBytes(out))
		if err != nil {
			return branchapi.Answer{}, fmt.Errorf("participant: signing the answer: %w", err)
		}
		out.PubKey, out.Signature = p.cfg.Signer.PubKey(), sig
	}
	return out, nil
}

// ServeHTTP serves one signed branchapi.Request.
func (p *Participant) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		p.refuse(w, r, http.StatusMethodNotAllowed, "method", errors.New("POST only"))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, branchapi.MaxRequestBytes+1))
	if err != nil || len(body) > branchapi.MaxRequestBytes {
		p.refuse(w, r, http.StatusRequestEntityTooLarge, "body", fmt.Errorf("body over %d bytes or unreadable", branchapi.MaxRequestBytes))
		return
	}
	if _, err := branchapi.VerifyRequest(r.Header, p.cfg.ChainID, body, p.cfg.Executors, p.cfg.Now()); err != nil {
		status := http.StatusUnauthorized
		if errors.Is(err, branchapi.ErrUntrusted) {
			status = http.StatusForbidden
		}
		p.refuse(w, r, status, "auth", err)
		return
	}
	req, err := p.decode(body)
	if err != nil {
		p.refuse(w, r, http.StatusBadRequest, "request", err)
		return
	}
	ans, err := p.Run(r.Context(), Branch{GID: req.GID, Branch: req.Branch, Operation: req.Operation, Attempt: req.Attempt, Payload: req.Payload})
	if errors.Is(err, errNoHandler) {
		p.refuse(w, r, http.StatusNotImplemented, "operation", err)
		return
	}
	if err != nil {
		p.cfg.Logger.Error("branch operation failed; the executor will ask again", "gid", req.GID, "branch", req.Branch, "op", req.Operation, "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"code": "unavailable", "message": "try again"})
		return
	}
	writeJSON(w, http.StatusOK, ans)
}

func (p *Participant) decode(body []byte) (branchapi.Request, error) {
	var req branchapi.Request
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("not a branch request: %w", err)
	}
	switch {
	case req.ChainID != p.cfg.ChainID:
		return req, fmt.Errorf("chain %q is not %q", req.ChainID, p.cfg.ChainID)
	case req.Participant != p.cfg.ID:
		return req, fmt.Errorf("participant %q is not %q", req.Participant, p.cfg.ID)
	case !branchapi.ValidOperation(req.Operation):
		return req, fmt.Errorf("operation %q unknown", req.Operation)
	case !types.ValidGtxName(req.GID, types.MaxGtxIDBytes):
		return req, errors.New("gid is not a gtx id")
	case len(req.Payload) > types.MaxGtxPayloadBytes:
		return req, fmt.Errorf("payload over %d bytes", types.MaxGtxPayloadBytes)
	}
	return req, nil
}

func (p *Participant) refuse(w http.ResponseWriter, r *http.Request, status int, code string, err error) {
	p.cfg.Logger.Warn("branch request refused", "remote", r.RemoteAddr, "status", status, "code", code, "err", err)
	writeJSON(w, status, map[string]string{"code": code, "message": strings.TrimPrefix(err.Error(), "branchapi: ")})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) //nolint:errcheck // the client went away
}
