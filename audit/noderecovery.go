package audit

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Truncation recovery of the node log: what OpenNodeLog finds wrong with a
// log (entries missing before the high-water mark, a tail that does not
// verify, an unreadable mark), the refusal it returns, and, with
// NodeLogOptions.AcceptTruncated, the recovery: damaged bytes set aside, a
// signed gap record, and a KindNodeLogTruncated entry.

// NodeLogRecovery is what OpenNodeLog did with AcceptTruncated.
type NodeLogRecovery struct {
	Cause      string    // what was wrong
	Kept       ChainHead // the last entry kept (signed)
	HighWater  ChainHead // the highest entry ever written; the chain resumes after it
	MovedTo    string    // where damaged bytes went ("" if none)
	MovedBytes int64
	Entry      Entry // the KindNodeLogTruncated entry
}

// Lost is how many sequence numbers were given up.
func (r NodeLogRecovery) Lost() uint64 { return r.HighWater.Seq - r.Kept.Seq }

// Recovery reports what OpenNodeLog did to open a truncated or damaged log
// (AcceptTruncated), or nil if the log opened clean.
func (l *NodeLog) Recovery() *NodeLogRecovery { return l.recovery }

// HighWaterMarkCreated reports whether the log had entries but no
// high-water mark file (written by an older version, or deleted): one was
// made from the log, which therefore could not be checked for truncation.
func (l *NodeLog) HighWaterMarkCreated() bool { return l.hwmCreated }

// truncation is what checkTruncation found wrong with a node log being
// opened: each problem in words with its cause, and high, the highest entry
// ever written (the chain must resume after it).
type truncation struct {
	problems []string
	causes   []error
	high     ChainHead
}

// checkTruncation compares the scan of a log of size bytes with its
// high-water mark (as readHWM read it from hwmPath).
func checkTruncation(sc *nodeScan, size int64, hwmPath string, mark ChainHead, found bool, hwmErr error) truncation {
	t := truncation{high: sc.signedHead}
	if sc.tailErr != nil {
		t.problems = append(t.problems, fmt.Sprintf("the %d bytes after its last good signature (seq %d, offset %d) do not verify",
			size-sc.signedEnd, sc.signedHead.Seq, sc.signedEnd))
		t.causes = append(t.causes, sc.tailErr)
		if sc.maxSeen.Seq > t.high.Seq {
			t.high = sc.maxSeen
		}
	}
	switch {
	case hwmErr != nil:
		t.problems = append(t.problems, "its high-water mark is unreadable")
		t.causes = append(t.causes, hwmErr)
	case found && (mark.Seq > sc.signedHead.Seq || mark.Seq == sc.signedHead.Seq && !bytes.Equal(mark.Hash, sc.signedHead.Hash)):
		t.problems = append(t.problems, fmt.Sprintf("it ends at seq %d but the node had written up to seq %d (high-water mark %s, hash %X)",
			sc.signedHead.Seq, mark.Seq, hwmPath, mark.Hash))
		t.causes = append(t.causes, &VerifyError{Seq: sc.signedHead.Seq + 1, Err: ErrTruncated,
			Detail: fmt.Sprintf("log ends at seq %d, high-water mark is seq %d", sc.signedHead.Seq, mark.Seq)})
		if mark.Seq > t.high.Seq || mark.Seq == t.high.Seq && t.high.Equal(sc.signedHead) {
			t.high = mark
		}
	}
	return t
}

// found reports whether anything is wrong.
func (t truncation) found() bool { return len(t.problems) > 0 }

// refusal is OpenNodeLog's error for the log at path without AcceptTruncated.
func (t truncation) refusal(path string) error {
	return fmt.Errorf("%w: %s: %s (%w). Nothing was changed. Keep a copy, check it (dstt audit verify --node-log), and open it with AcceptTruncated to continue after seq %d (the loss is then recorded in the log)",
		ErrNodeLogTruncated, path, strings.Join(t.problems, "; "), errors.Join(t.causes...), t.high.Seq)
}

// cause is NodeLogRecovery.Cause.
func (t truncation) cause() string {
	return fmt.Sprintf("%s (%v)", strings.Join(t.problems, "; "), errors.Join(t.causes...))
}

// acceptTruncation recovers the log l, not yet running, that sc scanned:
// it moves the bytes after the last good signature aside, records a signed
// gap up to the highest entry ever written, and sets l.recovery. It returns
// the head the chain continues from.
func (l *NodeLog) acceptTruncation(sc *nodeScan, t truncation) (ChainHead, error) {
	r := &NodeLogRecovery{Cause: t.cause(), Kept: sc.signedHead, HighWater: t.high}
	head := sc.signedHead
	if size := l.size; size > sc.signedEnd {
		var err error
		if r.MovedTo, err = saveTail(l.f, l.path, sc.signedEnd, size); err != nil {
			return ChainHead{}, err
		}
		r.MovedBytes = size - sc.signedEnd
		l.size = sc.signedEnd
	}
	if !t.high.Equal(sc.signedHead) {
		if err := l.writeGap(Gap{From: sc.signedHead, To: t.high}); err != nil {
			return ChainHead{}, err
		}
		head = t.high
	}
	l.recovery = r
	return head, nil
}

// recordRecovery appends the KindNodeLogTruncated entry for l.recovery, on
// the running log, and keeps it in Recovery().Entry.
func (l *NodeLog) recordRecovery() error {
	r := l.recovery
	moved := "no damaged bytes"
	if r.MovedTo != "" {
		moved = fmt.Sprintf("%d damaged bytes moved to %s", r.MovedBytes, r.MovedTo)
	}
	lost := "no sequence numbers lost"
	if r.Lost() > 0 {
		lost = fmt.Sprintf("seqs %d..%d lost and never reused", r.Kept.Seq+1, r.HighWater.Seq)
	}
	resources := []string{l.path}
	if r.MovedTo != "" {
		resources = append(resources, r.MovedTo)
	}
	e, err := l.Append(KindNodeLogTruncated, Fields{
		Action: "accept_truncated", Resources: resources,
		Message: fmt.Sprintf("node log truncated or damaged: %s; kept signed entries up to seq %d, highest seq ever written %d: %s; %s; opened with the operator's consent",
			truncateText(r.Cause, 4096), r.Kept.Seq, r.HighWater.Seq, lost, moved),
	})
	if err != nil {
		return err
	}
	r.Entry = e
	return nil
}

func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// writeGap appends a signed gap record at the end of the file (a signature
// boundary) and starts a new segment after it.
func (l *NodeLog) writeGap(g Gap) error {
	sig, err := l.signer.Sign(NodeGapSignBytes(g.From, g.To))
	if err != nil {
		return fmt.Errorf("audit: sign node log gap %s..%s: %w", g.From, g.To, err)
	}
	rec := appendRecord(nil, recGap, nodeGap{Gap: g, PubKey: l.pub, Sig: sig}.encode())
	if _, err := l.f.WriteAt(rec, l.size); err != nil {
		return fmt.Errorf("audit: write node log gap: %w", err)
	}
	if err := syncFileAndDir(l.f, l.path); err != nil {
		return err
	}
	l.size += int64(len(rec))
	l.segs = append(l.segs, logSegment{first: g.To.Seq + 1, idx: len(l.offsets)})
	return nil
}

// saveTail moves the bytes [from, size) of the log to PATH.torn-FROM (or
// PATH.torn-FROM.N if that exists: earlier evidence is never overwritten)
// and cuts the file back to from.
func saveTail(f *os.File, path string, from, size int64) (string, error) {
	tail := make([]byte, size-from)
	if _, err := f.ReadAt(tail, from); err != nil {
		return "", fmt.Errorf("audit: read damaged tail: %w", err)
	}
	aside := fmt.Sprintf("%s.torn-%d", path, from)
	for i := 2; ; i++ {
		af, err := os.OpenFile(aside, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			aside = fmt.Sprintf("%s.torn-%d.%d", path, from, i)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("audit: save damaged tail: %w", err)
		}
		_, werr := af.Write(tail)
		if werr == nil {
			werr = af.Sync()
		}
		if cerr := af.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return "", fmt.Errorf("audit: save damaged tail: %w", werr)
		}
		break
	}
	if err := f.Truncate(from); err != nil {
		return "", fmt.Errorf("audit: cut damaged tail: %w", err)
	}
	return aside, syncFileAndDir(f, path)
}
