package engine

import (
	"context"
	"fmt"
	"iter"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/storage"
)

// AuditSource reads the committed consensus audit chain straight from the
// store, for the node's own SIEM sinks: no RPC round trip and no read
// grant needed. It serves only settled entries, those whose commit time
// the next block has recorded (committime.go), so every entry a sink ships
// carries its commit time: Head is the settled head, which trails the
// committed one by the proof block CometBFT makes right after a block that
// changed the app hash (timeout_commit). It is safe for concurrent use
// alongside the engine (the store is; a block's records are committed in
// one batch).
type AuditSource struct{ store storage.Store }

var _ audit.Source = (*AuditSource)(nil)

// NewAuditSource reads the audit chain kept in store.
func NewAuditSource(store storage.Store) *AuditSource { return &AuditSource{store: store} }

// Head is the last settled audit head.
func (s *AuditSource) Head(context.Context) (audit.ChainHead, error) {
	return settledHead(s.store)
}

// Entries returns up to limit settled entries from fromSeq on.
func (s *AuditSource) Entries(ctx context.Context, fromSeq uint64, limit int) ([]audit.Entry, error) {
	head, err := s.Head(ctx)
	if err != nil {
		return nil, err
	}
	return readAuditEntries(s.store, fromSeq, limit, head.Seq)
}

// storedEntries yields the stored audit entries from seq from on in seq
// order (one scan of the audit namespace), decoded; an undecodable one ends
// it with the error.
func storedEntries(store storage.Store, from uint64) iter.Seq2[audit.Entry, error] {
	return func(yield func(audit.Entry, error) bool) {
		var failed bool
		err := store.Scan([]byte{nsAudit}, 0, func(ent storage.Entry) bool {
			if string(ent.Key) < string(auditKey(from)) {
				return true // left by a prune a crash interrupted
			}
			a, err := audit.Decode(ent.Value)
			if err != nil {
				failed = true
				yield(audit.Entry{}, fmt.Errorf("abci: audit record %X: %w", ent.Key, err))
				return false
			}
			return yield(a, nil)
		})
		if err != nil && !failed {
			yield(audit.Entry{}, err)
		}
	}
}

// CheckAudit checks the consensus audit chain stored in store against the
// app hash last committed with it, before a node serves anything from it:
// every entry from the lowest readable one (seq 1 unless the chain was
// pruned below an audit export anchor) to the stored head hashes and links correctly,
// the last is the head, and audit.AppHash(state hash, head) is the stored
// app hash — the one the engine reports to CometBFT, whose handshake then
// compares it with the app hash the validators signed. A mismatch is an
// error wrapping audit.ErrStoreMismatch. A store without genesis state
// passes.
func CheckAudit(store storage.Store) error {
	height, appHash, err := store.Last()
	if err != nil {
		return err
	}
	ent, ok, err := store.Get(headKey, 0)
	if err != nil {
		return err
	}
	if !ok {
		if height == 0 && appHash == nil {
			return nil
		}
		return fmt.Errorf("%w: no audit head record at height %d", audit.ErrStoreMismatch, height)
	}
	state, head, err := decodeHeadRecord(ent.Value)
	if err != nil {
		return fmt.Errorf("%w: %v", audit.ErrStoreMismatch, err)
	}
	hr := audit.HeadResponse{Height: height, StateHash: state, Head: head}
	floor, err := auditFloor(store)
	if err != nil {
		return err
	}
	return audit.CheckStoredFrom(storedEntries(store, floor), hr, appHash, floor)
}
