package engine

import (
	"context"
	"fmt"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/storage"
)

// AuditSource reads the committed consensus audit chain straight from the
// store, for the node's own SIEM sinks: no RPC round trip and no read
// grant needed. It is safe for concurrent use alongside the engine (the
// store is; a block's entries and head are committed in one batch).
type AuditSource struct{ store storage.Store }

var _ audit.Source = (*AuditSource)(nil)

// NewAuditSource reads the audit chain kept in store.
func NewAuditSource(store storage.Store) *AuditSource { return &AuditSource{store: store} }

// Head is the last committed audit head.
func (s *AuditSource) Head(context.Context) (audit.ChainHead, error) {
	ent, ok, err := s.store.Get(headKey, 0)
	if err != nil || !ok {
		return audit.ChainHead{}, err
	}
	_, head, err := decodeHeadRecord(ent.Value)
	return head, err
}

// Entries returns up to limit committed entries from fromSeq on.
func (s *AuditSource) Entries(ctx context.Context, fromSeq uint64, limit int) ([]audit.Entry, error) {
	head, err := s.Head(ctx)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = audit.DefaultPage
	}
	limit = min(limit, audit.MaxPage)
	var out []audit.Entry
	for seq := max(fromSeq, 1); seq <= head.Seq && len(out) < limit; seq++ {
		ent, ok, err := s.store.Get(auditKey(seq), 0)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("abci: audit entry %d missing from state", seq)
		}
		a, err := audit.Decode(ent.Value)
		if err != nil {
			return nil, fmt.Errorf("abci: audit entry %d: %w", seq, err)
		}
		out = append(out, a)
	}
	return out, nil
}
