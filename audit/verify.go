package audit

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
)

// Reasons a chain fails verification, wrapped in a *VerifyError.
var (
	ErrHash      = errors.New("audit: entry hash does not match its contents")
	ErrLink      = errors.New("audit: prev_hash does not match the previous entry's hash")
	ErrGap       = errors.New("audit: entry missing")
	ErrOrder     = errors.New("audit: entries out of order")
	ErrTruncated = errors.New("audit: chain ends before the expected head")
	ErrHead      = errors.New("audit: chain does not reach the expected head")
	ErrSignature = errors.New("audit: signature does not verify")
	ErrUnsigned  = errors.New("audit: entries not covered by a signature")
	ErrCorrupt   = errors.New("audit: stored record is corrupt")
)

// VerifyError says where a chain first goes wrong. Seq is the first
// sequence number that cannot be trusted: the position where the entry
// should be, whatever the entry found there claims.
type VerifyError struct {
	Seq    uint64
	Err    error  // one of ErrHash, ErrLink, ErrGap, ErrOrder, ErrTruncated, ErrHead, ErrSignature, ErrUnsigned, ErrCorrupt
	Detail string // what was found
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("audit: first bad entry is seq %d: %v: %s", e.Seq, e.Err, e.Detail)
}

func (e *VerifyError) Unwrap() error { return e.Err }

func verifyErr(seq uint64, err error, format string, args ...any) *VerifyError {
	return &VerifyError{Seq: seq, Err: err, Detail: fmt.Sprintf(format, args...)}
}

// FirstBadSeq returns the Seq of the *VerifyError in err's chain.
func FirstBadSeq(err error) (uint64, bool) {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Seq, true
	}
	return 0, false
}

// Verifier checks a chain one entry at a time, so a long chain can be
// verified while it is paged in. Checks for each entry, in order: its hash
// (recomputed from its contents), its sequence number (the previous one
// plus one), its link (PrevHash equals the previous hash), and that heights
// never go down. Not safe for concurrent use.
type Verifier struct {
	head       ChainHead
	lastHeight uint64
	anchor     ChainHead
	anchorSeen bool
	failed     error
	// open: the first entry's prev_hash is taken as it is (NewVerifierAt).
	open bool
}

// NewVerifier starts after prev: the head of the trusted part of the chain
// (the zero head to verify from seq 1).
func NewVerifier(prev ChainHead) *Verifier {
	return &Verifier{head: ChainHead{Seq: prev.Seq, Hash: cloneBytes(prev.Hash)}}
}

// Anchor sets an expected head, e.g. one proved by the validators'
// signatures: Finish then fails unless the chain reached anchor.Seq and the
// entry there has anchor.Hash. Entries past the anchor are still checked.
func (v *Verifier) Anchor(anchor ChainHead) {
	v.anchor = ChainHead{Seq: anchor.Seq, Hash: cloneBytes(anchor.Hash)}
	v.anchorSeen = anchor.Seq <= v.head.Seq && (anchor.Seq != v.head.Seq || bytes.Equal(anchor.Hash, v.head.Hash))
}

// Add checks the next entry. After the first error every call returns it.
func (v *Verifier) Add(e *Entry) error {
	if v.failed != nil {
		return v.failed
	}
	want := v.head.Seq + 1
	if !bytes.Equal(e.ComputeHash(), e.Hash) {
		v.failed = verifyErr(want, ErrHash, "the entry at seq %d (claiming seq %d) hashes to %X, it says %X", want, e.Seq, e.ComputeHash(), e.Hash)
		return v.failed
	}
	if e.Seq != want {
		err, what := ErrGap, "missing"
		if e.Seq < want {
			err, what = ErrOrder, "repeated or out of order"
		}
		v.failed = verifyErr(want, err, "expected seq %d, found seq %d (%s)", want, e.Seq, what)
		return v.failed
	}
	if !v.open && !bytes.Equal(e.PrevHash, v.head.Hash) {
		v.failed = verifyErr(want, ErrLink, "seq %d links to %X but seq %d hashes to %X (seq %d or %d was altered)",
			e.Seq, e.PrevHash, v.head.Seq, v.head.Hash, v.head.Seq, e.Seq)
		return v.failed
	}
	if e.Height < v.lastHeight {
		v.failed = verifyErr(want, ErrOrder, "height %d after height %d", e.Height, v.lastHeight)
		return v.failed
	}
	if v.anchor.Seq == e.Seq {
		if !bytes.Equal(v.anchor.Hash, e.Hash) {
			v.failed = verifyErr(e.Seq, ErrHead, "seq %d hashes to %X, the anchored head says %X", e.Seq, e.Hash, v.anchor.Hash)
			return v.failed
		}
		v.anchorSeen = true
	}
	v.head = ChainHead{Seq: e.Seq, Hash: cloneBytes(e.Hash)}
	v.lastHeight = e.Height
	v.open = false
	return nil
}

// Head returns the head of the chain verified so far.
func (v *Verifier) Head() ChainHead { return ChainHead{Seq: v.head.Seq, Hash: cloneBytes(v.head.Hash)} }

// Finish returns the first error seen, or ErrTruncated if an anchor was set
// and the chain stopped before it.
func (v *Verifier) Finish() error {
	if v.failed != nil {
		return v.failed
	}
	if v.anchor.Seq > 0 && !v.anchorSeen {
		if v.head.Seq < v.anchor.Seq {
			return verifyErr(v.head.Seq+1, ErrTruncated, "chain ends at seq %d, the anchored head is seq %d", v.head.Seq, v.anchor.Seq)
		}
		return verifyErr(v.anchor.Seq, ErrHead, "the anchored head %s is not in the chain", v.anchor)
	}
	return nil
}

// Verify checks that entries continue the chain after prev: hashes,
// sequence numbers, links and height order. It returns nil or a
// *VerifyError naming the first bad sequence number. Where an entry is
// missing, Verify looks ahead to tell a deletion (ErrGap) from a reordering
// (ErrOrder).
func Verify(entries []Entry, prev ChainHead) error {
	return verify(entries, prev, ChainHead{})
}

// VerifyAnchored is Verify that also requires the chain to reach anchor
// (an expected head, e.g. one the validators signed): a chain that stops
// short is ErrTruncated at the first missing seq, one whose entry at
// anchor.Seq has another hash is ErrHead.
func VerifyAnchored(entries []Entry, prev, anchor ChainHead) error {
	return verify(entries, prev, anchor)
}

func verify(entries []Entry, prev, anchor ChainHead) error {
	v := NewVerifier(prev)
	if anchor.Seq > 0 {
		v.Anchor(anchor)
	}
	for i := range entries {
		err := v.Add(&entries[i])
		if err == nil {
			continue
		}
		var ve *VerifyError
		if errors.As(err, &ve) && ve.Err == ErrGap {
			for j := i + 1; j < len(entries); j++ {
				if entries[j].Seq == ve.Seq {
					ve.Err = ErrOrder
					ve.Detail += fmt.Sprintf("; seq %d appears later, at position %d", ve.Seq, j)
					break
				}
			}
		}
		return err
	}
	return v.Finish()
}

// ErrStoreMismatch: a node's stored consensus audit chain does not match
// the app hash it last committed (see CheckStored).
var ErrStoreMismatch = errors.New("audit: the stored audit chain does not match the last committed app hash")

// CheckStored checks a node's stored consensus chain before the node
// serves it: AppHash(hr.StateHash, hr.Head) must be appHash, the last
// committed app hash, and entries, the stored entries in seq order from
// seq 1 (those past the head are ignored), must hash, link and end at
// hr.Head. A mismatch, or an entry that does not decode (entries yields
// an error wrapping ErrDecode or ErrNonCanonical), is an error wrapping
// ErrStoreMismatch (and the *VerifyError, when there is one); any other
// error from entries (reading the store) comes back as it is.
func CheckStored(entries iter.Seq2[Entry, error], hr HeadResponse, appHash []byte) error {
	return CheckStoredFrom(entries, hr, appHash, 1)
}

// CheckStoredFrom is CheckStored for a chain pruned below seq from (an
// audit export anchor's prune point): entries must start at from.
func CheckStoredFrom(entries iter.Seq2[Entry, error], hr HeadResponse, appHash []byte, from uint64) error {
	if want := hr.AppHash(); !bytes.Equal(want, appHash) {
		return fmt.Errorf("%w: state hash %X and audit head %s give app hash %X; height %d committed %X",
			ErrStoreMismatch, hr.StateHash, hr.Head, want, hr.Height, appHash)
	}
	v := NewVerifierAt(from)
	v.Anchor(hr.Head)
	var err error
	for e, rerr := range entries {
		if err = rerr; err != nil {
			break
		}
		if v.Head().Seq >= hr.Head.Seq {
			break
		}
		if err = v.Add(&e); err != nil {
			break
		}
	}
	if err == nil {
		err = v.Finish()
	}
	if _, bad := FirstBadSeq(err); bad || errors.Is(err, ErrDecode) || errors.Is(err, ErrNonCanonical) {
		return fmt.Errorf("%w: %w", ErrStoreMismatch, err)
	}
	return err
}
