package participant

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"

	"github.com/dstt/dstt/transport/branchapi"
	"github.com/dstt/dstt/types"
)

// DefaultBarrierTable is the barrier table's name unless Config says otherwise.
const DefaultBarrierTable = "dstt_gtx_barrier"

var tableName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}(\.[a-z_][a-z0-9_]{0,62})?$`)

// barrierSchema creates the barrier table: one row per (gid, branch,
// operation) that took effect, or that a compensation or cancel claimed
// first (reason then names that operation).
const barrierSchema = `CREATE TABLE IF NOT EXISTS %s (
	gid        text        NOT NULL,
	branch     bigint      NOT NULL,
	op         text        NOT NULL,
	reason     text        NOT NULL,
	result     bytea,
	created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (gid, branch, op)
)`

// CreateBarrierTable creates the barrier table if it does not exist.
func (p *Participant) CreateBarrierTable(ctx context.Context) error {
	_, err := p.cfg.DB.ExecContext(ctx, fmt.Sprintf(barrierSchema, p.cfg.BarrierTable))
	return err
}

// insert claims (gid, branch, op) for reason; it reports whether this
// call inserted the row (false: the row was there, or another transaction
// just committed it: the insert waits for that one to end).
func (p *Participant) insert(ctx context.Context, tx *sql.Tx, b Branch, op, reason string) (bool, error) {
	res, err := tx.ExecContext(ctx, fmt.Sprintf(
		`INSERT INTO %s (gid, branch, op, reason) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, p.cfg.BarrierTable),
		b.GID, int64(b.Branch), op, reason)
	if err != nil {
		return false, fmt.Errorf("participant: barrier insert: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// previous answers an operation whose barrier row exists: its own earlier
// success (the stored result), or, when a compensation or cancel claimed
// the row first, a failure: the late action or try did nothing.
func (p *Participant) previous(ctx context.Context, tx *sql.Tx, b Branch) (Answer, error) {
	var reason string
	var result []byte
	err := tx.QueryRowContext(ctx, fmt.Sprintf(
		`SELECT reason, result FROM %s WHERE gid = $1 AND branch = $2 AND op = $3`, p.cfg.BarrierTable),
		b.GID, int64(b.Branch), b.Operation).Scan(&reason, &result)
	if err != nil {
		return Answer{}, fmt.Errorf("participant: barrier read: %w", err)
	}
	if reason != b.Operation {
		return Failed(nil), nil
	}
	return Succeeded(result), nil
}

// run executes one branch operation behind the barrier, in one SQL
// transaction with fn's writes:
//
//   - compensate/cancel first claims its origin's row (action/try); when
//     that claim succeeds the origin never ran: nothing to undo (a null
//     compensation), and the claimed row makes a late origin a no-op;
//   - the operation then claims its own row; when the row exists the
//     operation already took effect (or was blocked) and its earlier
//     answer is returned without running fn;
//   - otherwise fn runs; its Succeeded commits fn's writes with the row,
//     Failed and NotYet roll both back (so a retry runs fn again), and an
//     error rolls back and is returned.
func (p *Participant) run(ctx context.Context, b Branch, fn BranchFunc) (Answer, error) {
	tx, err := p.cfg.DB.BeginTx(ctx, p.cfg.TxOptions)
	if err != nil {
		return Answer{}, fmt.Errorf("participant: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	ans, err := p.runIn(ctx, tx, b, fn)
	if err != nil || ans.Outcome != branchapi.OutcomeSucceeded {
		return ans, err
	}
	if err := tx.Commit(); err != nil {
		return Answer{}, fmt.Errorf("participant: commit: %w", err)
	}
	return ans, nil
}

func (p *Participant) runIn(ctx context.Context, tx *sql.Tx, b Branch, fn BranchFunc) (Answer, error) {
	if origin := branchapi.Origin(b.Operation); origin != "" {
		null, err := p.insert(ctx, tx, b, origin, b.Operation)
		if err != nil {
			return Answer{}, err
		}
		if null {
			_, err := p.insert(ctx, tx, b, b.Operation, b.Operation)
			return Succeeded(nil), err
		}
	}
	fresh, err := p.insert(ctx, tx, b, b.Operation, b.Operation)
	if err != nil {
		return Answer{}, err
	}
	if !fresh {
		return p.previous(ctx, tx, b)
	}
	ans, err := fn(ctx, tx, b)
	if err != nil {
		return Answer{}, err
	}
	if !validOutcome(ans.Outcome) {
		return Answer{}, fmt.Errorf("participant: %s returned outcome %q", b.Operation, ans.Outcome)
	}
	if len(ans.Result) > types.MaxGtxResultBytes {
		return Answer{}, fmt.Errorf("participant: %s returned a result of %d bytes, over the chain's %d", b.Operation, len(ans.Result), types.MaxGtxResultBytes)
	}
	if ans.Outcome == branchapi.OutcomeSucceeded {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(
			`UPDATE %s SET result = $4 WHERE gid = $1 AND branch = $2 AND op = $3`, p.cfg.BarrierTable),
			b.GID, int64(b.Branch), b.Operation, ans.Result); err != nil {
			return Answer{}, fmt.Errorf("participant: barrier result: %w", err)
		}
	}
	return ans, nil
}

func validOutcome(o string) bool {
	return o == branchapi.OutcomeSucceeded || o == branchapi.OutcomeFailed || o == branchapi.OutcomeNotYet
}

// errNoHandler: the participant has no function for an operation.
var errNoHandler = errors.New("participant: no function for this operation")
