package audit

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"
)

// ConsensusRPC is the part of a CometBFT RPC client VerifyConsensus needs;
// rpcclient.Client satisfies it.
type ConsensusRPC interface {
	CommitRPC
	Status(ctx context.Context) (*ctypes.ResultStatus, error)
}

// ConsensusProof says what VerifyConsensus proves.
type ConsensusProof struct {
	// Height whose audit head to prove; 0 means the latest height whose
	// next block exists (latest - 1).
	Height int64
	// Trusted is the validator set the signers must match (or keep 1/3 of
	// its power signing); nil trusts the set the node reports.
	Trusted *cmttypes.ValidatorSet
	// Expect, when non-zero, is a head the chain must reach (e.g. the last
	// entry a SIEM received): detects truncation.
	Expect ChainHead
}

// TrustedValidators reads the validator set of a genesis file.
func TrustedValidators(genesisPath string) (*cmttypes.ValidatorSet, error) {
	doc, err := cmttypes.GenesisDocFromFile(genesisPath)
	if err != nil {
		return nil, err
	}
	vals := make([]*cmttypes.Validator, len(doc.Validators))
	for i, v := range doc.Validators {
		vals[i] = cmttypes.NewValidator(v.PubKey, v.Power)
	}
	vs := cmttypes.NewValidatorSet(vals)
	if err := vs.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("%s: validators: %w", genesisPath, err)
	}
	return vs, nil
}

// VerifyConsensus proves the consensus chain a node serves: it fetches the
// state hash and audit head at p.Height over src, checks them against the
// app hash in the next block's header, whose commit signatures are
// verified (VerifyAgainstCommit), then pages through every entry up to
// the node's head. A Report with Chain set comes back with any
// verification failure; an error with an empty Report means the proof
// could not be attempted.
func VerifyConsensus(ctx context.Context, c ConsensusRPC, src *RPCSource, chainID string, p ConsensusProof) (Report, error) {
	st, err := c.Status(ctx)
	if err != nil {
		return Report{}, err
	}
	latest := st.SyncInfo.LatestBlockHeight
	height := p.Height
	if height == 0 {
		height = latest - 1
	}
	if height < 1 || height >= latest {
		return Report{}, fmt.Errorf("cannot prove height %d: the node is at %d and the proof needs block %d (the next block carries the app hash)", height, latest, height+1)
	}
	hr, err := src.HeadAt(ctx, height)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Chain: "consensus"}
	a, err := VerifyAgainstCommit(ctx, NewRPCCommitFetcher(c), chainID, hr, CommitOptions{Trusted: p.Trusted})
	rep.Anchor = anchorReport(a)
	if err != nil {
		return rep, err
	}
	from, err := lowestSeq(ctx, src)
	if err != nil {
		return rep, err
	}
	head, err := verifyUpTo(ctx, src, from, hr.Head, p.Expect)
	rep.Entries, rep.Head = head.Seq-min(head.Seq, from-1), head.String()
	if from > 1 {
		rep.PrunedBelow = from
	}
	if head.Seq > hr.Head.Seq {
		rep.Unanchored = head.Seq - hr.Head.Seq
	}
	return rep, err
}

// lowestSeq is the seq of src's first readable entry (1 unless the chain
// was pruned below an audit anchor).
func lowestSeq(ctx context.Context, src Source) (uint64, error) {
	es, err := src.Entries(ctx, 0, 1)
	if err != nil || len(es) == 0 {
		return 1, err
	}
	return max(es[0].Seq, 1), nil
}

// verifyUpTo verifies src's whole chain from seq from, which must pass
// through proven and, when set, expect; it returns the head it reached. A
// chain from above seq 1 must hold the committed audit anchor entry that
// pruned it there (PrunedBy).
func verifyUpTo(ctx context.Context, src Source, from uint64, proven, expect ChainHead) (ChainHead, error) {
	v := NewVerifierAt(from)
	pruneSeen := from <= 1
	v.Anchor(proven)
	if expect.Seq > proven.Seq { // the caller's head must be on the proven chain too
		v.Anchor(expect)
	}
	var expectErr error
	err := Scan(ctx, src, from, 0, 0, func(page []Entry) error {
		for i := range page {
			if err := v.Add(&page[i]); err != nil {
				return err
			}
			pruneSeen = pruneSeen || (page[i].Seq <= proven.Seq && PrunedBy(&page[i], from))
			if expect.Seq == page[i].Seq && string(expect.Hash) != string(page[i].Hash) && expectErr == nil {
				expectErr = &VerifyError{Seq: expect.Seq, Err: ErrHead, Detail: fmt.Sprintf("seq %d hashes to %X, --expect-head says %X", expect.Seq, page[i].Hash, expect.Hash)}
			}
		}
		return nil
	})
	head := v.Head()
	if err == nil {
		err = v.Finish()
	}
	if err == nil && expect.Seq > 0 && expect.Seq > head.Seq {
		err = &VerifyError{Seq: head.Seq + 1, Err: ErrTruncated, Detail: fmt.Sprintf("chain ends at seq %d, --expect-head is seq %d", head.Seq, expect.Seq)}
	}
	if err == nil {
		err = expectErr
	}
	if err == nil && !pruneSeen {
		err = &VerifyError{Seq: from, Err: ErrPrunedStart, Detail: fmt.Sprintf("the node's chain starts at seq %d, and no committed audit anchor entry up to the proven head %s pruned it there", from, proven)}
	}
	return head, err
}

// VerifyNodeLog verifies the node log file at path with the node's audit
// public key (VerifyNodeLogFile) and reports it. An error with an empty
// Report means the file could not even be read.
func VerifyNodeLog(path string, pub []byte, anchor ChainHead) (Report, error) {
	r, err := VerifyNodeLogFile(path, pub, anchor)
	if err != nil {
		if _, isVerify := FirstBadSeq(err); !isVerify && r.Entries == 0 && r.Signatures == 0 {
			return Report{}, err
		}
	}
	rep := Report{Chain: "node", Entries: r.Entries, Head: r.Head.String(), Signatures: r.Signatures}
	for _, gap := range r.Gaps {
		rep.Gaps = append(rep.Gaps, fmt.Sprintf("seqs %d..%d lost (log kept %s, resumed after %s)", gap.From.Seq+1, gap.To.Seq, gap.From, gap.To))
	}
	return rep, err
}

// VerifyExportFile verifies a native JSON export (one entry per line, as
// format "json" writes it, read strictly: DecodeJSON). after is the entry
// before the file's first; zero trusts the first entry's prev_hash. A
// non-zero anchor is a trusted head the file must reach.
//
// A file on its own proves only that its lines form a chain: anyone can
// make such a file. The Report's Scope says what more was shown:
// ScopeAnchored when the start is tied down (the file starts at seq 1, or
// after the given head) and the end is a trusted head (anchor, or
// ProveExport with the validators' signatures); otherwise ScopeInternal,
// with Open naming each end that is not.
func VerifyExportFile(path string, after, anchor ChainHead) (Report, error) {
	rep := Report{Chain: "export " + path}
	entries, err := readExport(path)
	if err != nil {
		if _, isVerify := FirstBadSeq(err); isVerify {
			return rep, err
		}
		return Report{}, err
	}
	prev := after
	if after.IsZero() && len(entries) > 0 && entries[0].Seq > 1 {
		prev = ChainHead{Seq: entries[0].Seq - 1, Hash: entries[0].PrevHash}
	}
	err = VerifyAnchored(entries, prev, anchor)
	rep.Entries = uint64(len(entries))
	var last ChainHead
	if len(entries) > 0 {
		last = ChainHead{Seq: entries[len(entries)-1].Seq, Hash: entries[len(entries)-1].Hash}
		rep.Head = last.String()
	}
	switch {
	case len(entries) == 0:
		rep.openStart = "the file holds no entries"
	case after.IsZero() && entries[0].Seq > 1:
		rep.openStart = fmt.Sprintf("the file starts at seq %d and nothing shows that entries before it were not cut off (give --after SEQ:HASH, the entry before it)", entries[0].Seq)
	}
	switch {
	case anchor.IsZero():
		rep.openEnd = "no trusted head: nothing shows that entries were not cut off the end, or that the chain is the one the validators signed (give --expect-head SEQ:HASH, or --prove)"
	case anchor.Seq < last.Seq:
		rep.openEnd = fmt.Sprintf("seqs %d..%d come after the trusted head %d and are verified as a chain only", anchor.Seq+1, last.Seq, anchor.Seq)
	}
	rep.settleScope()
	return rep, err
}

// ProveExport adds a proof against the validators to rep, an export's
// report from VerifyExportFile: proof and err are what VerifyConsensus
// returned for the same chain, run with ConsensusProof.Expect set to the
// file's last entry (so the chain the validators signed must pass through
// it). The file's end is then anchored if its last entry is at or below
// the proven head. The error to conclude rep with comes back.
func ProveExport(rep *Report, proof Report, err error) error {
	rep.Anchor = proof.Anchor
	if err != nil {
		return fmt.Errorf("proof against the validators: %w", err)
	}
	last, perr := ParseChainHead(rep.Head)
	proven := ChainHead{}
	if proof.Anchor != nil {
		proven, _ = ParseChainHead(proof.Anchor.Head)
	}
	switch {
	case perr != nil || last.Seq == 0:
	case proven.Seq >= last.Seq:
		rep.openEnd = ""
	default:
		rep.openEnd = fmt.Sprintf("the validators have signed the chain up to seq %d so far; seqs %d..%d are on the node's chain but not yet under a signed app hash", proven.Seq, proven.Seq+1, last.Seq)
	}
	rep.settleScope()
	return nil
}

// readExport reads a JSON-lines export strictly (DecodeJSON); a line that
// is not an entry is an ErrCorrupt *VerifyError at the seq it would have
// had, naming the line.
func readExport(path string) ([]Entry, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var entries []Entry
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		e, err := DecodeJSON(sc.Bytes())
		if err != nil {
			return nil, &VerifyError{Seq: uint64(len(entries)) + 1, Err: ErrCorrupt, Detail: fmt.Sprintf("%s line %d: %v", path, line, err)}
		}
		entries = append(entries, e)
	}
	return entries, sc.Err()
}

// NodeLogFileSource serves a node log file read-only (the node may be
// appending): Head re-reads the file. Safe for concurrent use.
type NodeLogFileSource struct {
	path string
	mem  *InMemorySource
}

var _ Source = (*NodeLogFileSource)(nil)

// NewNodeLogFileSource reads the node log file at path.
func NewNodeLogFileSource(path string) (*NodeLogFileSource, error) {
	s := &NodeLogFileSource{path: path, mem: NewInMemorySource()}
	return s, s.reload()
}

func (s *NodeLogFileSource) reload() error {
	es, err := ReadNodeLogFile(s.path)
	if err != nil {
		return err
	}
	s.mem.Replace(es)
	return nil
}

// Entries implements Source, from the file as last read.
func (s *NodeLogFileSource) Entries(ctx context.Context, from uint64, limit int) ([]Entry, error) {
	return s.mem.Entries(ctx, from, limit)
}

// Head implements Source: it re-reads the file first.
func (s *NodeLogFileSource) Head(ctx context.Context) (ChainHead, error) {
	if err := s.reload(); err != nil {
		return ChainHead{}, err
	}
	return s.mem.Head(ctx)
}
