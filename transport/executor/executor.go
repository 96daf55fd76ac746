package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/branchapi"
)

// Step is one branch operation the chain waits for.
type Step struct {
	GID         string
	Branch      uint32
	Operation   string // a branchapi.Op* name
	Attempt     uint32
	Participant string
	Endpoint    string // the participant's registered URL
	Payload     []byte
	// DeadlineUnixMs is the gtx's deadline (block time), passed on to the
	// participant for information.
	DeadlineUnixMs int64
}

func (s Step) key() string {
	return fmt.Sprintf("%s/%d/%s/%d", s.GID, s.Branch, s.Operation, s.Attempt)
}

// Chain is what the executor needs from the node: the steps due now, and
// a way to submit a participant's signed answer to one. Submit returns nil
// once the answer is on its way (the executor then waits for the step to
// leave Pending, and asks again if it does not within SettleTimeout), or
// when the chain no longer waits for that step (another executor answered
// first); any other error is retried.
type Chain interface {
	Pending(ctx context.Context) ([]Step, error)
	Submit(ctx context.Context, s Step, a branchapi.Answer) error
	// Wait returns when the chain may have new steps (a new block, a
	// timeout) or ctx ends.
	Wait(ctx context.Context)
	// Expire asks the chain to apply gid's deadline now (a block whose
	// time is past it rolls the gtx back); nil when the chain has nothing
	// to do for it.
	Expire(ctx context.Context, gid string) error
}

// Config configures an Executor.
type Config struct {
	ChainID string
	Chain   Chain
	// Signer is the executor's key: it signs the requests to participants
	// (they trust it as a consortium member's key) and, through Chain, the
	// txs that carry answers.
	Signer security.Signer
	// HTTP calls participants (nil: a client with a 30 s timeout).
	HTTP *http.Client
	// MinBackoff and MaxBackoff bound the pause between attempts at one
	// step (defaults 100 ms and 5 s); the pause doubles per failed attempt
	// and is jittered.
	MinBackoff, MaxBackoff time.Duration
	// SettleTimeout is how long a submitted answer may take to show on the
	// chain (the step leaves the pending work) before the executor asks
	// the participant and submits again (default 10 s).
	SettleTimeout time.Duration
	// Gate, when set, is called before each participant request and
	// blocks until the step may run (a debugger's single-stepping).
	Gate   func(ctx context.Context, s Step) error
	Logger *slog.Logger
}

// DefaultConfig returns the defaults (Chain, Signer and ChainID unset).
func DefaultConfig() Config {
	return Config{MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second, SettleTimeout: 10 * time.Second}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.ChainID == "" {
		errs = append(errs, errors.New("chain id (ChainID) is empty"))
	}
	if c.Chain == nil {
		errs = append(errs, errors.New("no chain (Chain)"))
	}
	if c.Signer == nil {
		errs = append(errs, errors.New("no executor key (Signer)"))
	}
	if c.SettleTimeout <= 0 {
		errs = append(errs, fmt.Errorf("SettleTimeout %v: want > 0", c.SettleTimeout))
	}
	if c.MinBackoff <= 0 || c.MaxBackoff < c.MinBackoff {
		errs = append(errs, fmt.Errorf("backoff %v..%v: want 0 < MinBackoff <= MaxBackoff", c.MinBackoff, c.MaxBackoff))
	}
	if len(errs) > 0 {
		return fmt.Errorf("executor: config: %w", errors.Join(errs...))
	}
	return nil
}

// Executor drives every pending step of every gtx to a recorded answer.
type Executor struct {
	cfg Config

	mu       sync.Mutex
	inFlight map[string]bool
	pending  map[string]bool // the steps the chain awaited at the last read
	kick     chan struct{}   // a worker's answer was recorded
	expiring map[string]bool // gids with a deadline submission under way
	now      func() time.Time
}

// New validates cfg and returns an executor; Run starts it.
func New(cfg Config) (*Executor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.HTTP == nil {
		cfg.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Executor{cfg: cfg, inFlight: map[string]bool{}, pending: map[string]bool{}, kick: make(chan struct{}, 1), expiring: map[string]bool{}, now: time.Now}, nil
}

// Run follows the chain until ctx ends: each round it reads the pending
// steps and starts one worker per step not already being worked on here;
// then it waits for the chain to move. It returns ctx's error.
func (e *Executor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		steps, err := e.cfg.Chain.Pending(ctx)
		if err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("gtx executor: reading pending steps", "err", err)
		}
		if err == nil {
			e.setPending(steps)
		}
		for _, s := range steps {
			if e.claim(s) {
				wg.Go(func() { e.drive(ctx, s) })
			}
			if e.overdue(s) {
				wg.Go(func() { e.expire(ctx, s.GID) })
			}
		}
		e.wait(ctx)
	}
	return ctx.Err()
}

// wait is Chain.Wait, cut short when a worker got an answer recorded: the
// gtx's next step is due now.
func (e *Executor) wait(ctx context.Context) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-e.kick:
			cancel()
		case <-wctx.Done():
		}
	}()
	e.cfg.Chain.Wait(wctx)
}

func (e *Executor) claim(s Step) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.inFlight[s.key()] {
		return false
	}
	e.inFlight[s.key()] = true
	return true
}

func (e *Executor) setPending(steps []Step) {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.pending)
	for _, s := range steps {
		e.pending[s.key()] = true
	}
}

// awaited reports whether the chain still awaited s at the last read.
func (e *Executor) awaited(s Step) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.pending[s.key()]
}

func (e *Executor) release(s Step) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.inFlight, s.key())
}

// drive asks the participant until it gives a definite answer and submits
// it; it retries, with backoff, every failure of either, until the chain
// takes the answer, no longer awaits the step, or ctx ends. A refused answer (a wrong signature) is
// retried too: the chain decides, and a deadline ends the wait there.
func (e *Executor) drive(ctx context.Context, s Step) {
	defer e.release(s)
	if e.cfg.Gate != nil {
		if err := e.cfg.Gate(ctx, s); err != nil {
			return
		}
	}
	for attempt := 0; ctx.Err() == nil; attempt++ {
		if attempt > 0 && (!e.pause(ctx, attempt) || !e.awaited(s)) {
			return
		}
		ans, err := e.call(ctx, s)
		if err != nil {
			e.cfg.Logger.Info("gtx executor: participant gave no definite answer", "step", s.key(), "attempt", attempt+1, "err", err)
			continue
		}
		if err := e.cfg.Chain.Submit(ctx, s, ans); err != nil {
			e.cfg.Logger.Warn("gtx executor: answer not recorded", "step", s.key(), "attempt", attempt+1, "err", err)
			continue
		}
		e.kickRead()
		if e.settle(ctx, s) {
			return
		}
		e.cfg.Logger.Warn("gtx executor: answer submitted but the step is still awaited; asking again", "step", s.key(), "attempt", attempt+1)
	}
}

// kickRead cuts the wait for the next read of the pending work short.
func (e *Executor) kickRead() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// settle waits, up to SettleTimeout, for s to leave the pending work: it
// reports whether it did (or ctx ended).
func (e *Executor) settle(ctx context.Context, s Step) bool {
	deadline := e.now().Add(e.cfg.SettleTimeout)
	for e.awaited(s) {
		if e.now().After(deadline) {
			return false
		}
		if !sleep(ctx, e.cfg.MinBackoff/4+time.Millisecond) {
			return true
		}
	}
	return true
}

// pause sleeps the backoff for attempt (1-based), jittered to [d/2, d).
func (e *Executor) pause(ctx context.Context, attempt int) bool {
	d := e.cfg.MinBackoff << min(attempt-1, 20)
	if d > e.cfg.MaxBackoff || d <= 0 {
		d = e.cfg.MaxBackoff
	}
	return sleep(ctx, d/2+rand.N(d/2+1))
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// overdue reports whether s is an action or try whose gtx's deadline has
// passed by this executor's clock, with no deadline submission for it
// under way here (and claims it). The chain decides by block time: a
// chain that makes blocks only for txs needs one to roll the gtx back.
func (e *Executor) overdue(s Step) bool {
	if s.DeadlineUnixMs == 0 || e.now().UnixMilli() < s.DeadlineUnixMs ||
		(s.Operation != branchapi.OpAction && s.Operation != branchapi.OpTry) {
		return false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.expiring[s.GID] {
		return false
	}
	e.expiring[s.GID] = true
	return true
}

// expire submits gid's deadline, then holds the claim for MaxBackoff so a
// block time still short of the deadline is not chased by a tx per read.
func (e *Executor) expire(ctx context.Context, gid string) {
	if err := e.cfg.Chain.Expire(ctx, gid); err != nil && ctx.Err() == nil {
		e.cfg.Logger.Warn("gtx executor: deadline not applied", "gid", gid, "err", err)
	}
	sleep(ctx, e.cfg.MaxBackoff)
	e.mu.Lock()
	delete(e.expiring, gid)
	e.mu.Unlock()
}
