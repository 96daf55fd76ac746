package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
)

func testClock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2025, 6, 1, 12, 0, 0, 123456789, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Millisecond)
		return t
	}
}

func openTestLog(t *testing.T, path string, signer security.Signer) *NodeLog {
	t.Helper()
	l, err := OpenNodeLog(path, signer, NodeLogOptions{Now: testClock()})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newSigner(t *testing.T) *security.LocalSigner {
	t.Helper()
	s, err := security.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNodeLogAppendReopenVerify(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit", "node.log")
	signer := newSigner(t)
	l := openTestLog(t, path, signer)
	e1, err := l.Append(KindNodeStarted, Fields{Message: "dstt node starting"})
	if err != nil {
		t.Fatal(err)
	}
	if e1.Seq != 1 || e1.Time.IsZero() {
		t.Fatalf("first entry %+v", e1)
	}
	// Concurrent appenders and recorders: group commit, every entry once.
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				f := Fields{Actor: fmt.Sprintf("client-%d", g), Code: 5, CodeName: "BAD_SIGNATURE", Message: fmt.Sprint(i)}
				var err error
				if i%2 == 0 {
					_, err = l.Append(KindCheckTxRejected, f)
				} else {
					err = l.Record(KindAuthFailed, f)
				}
				if err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	head, _ := l.Head(context.Background())
	if head.Seq != 401 {
		t.Fatalf("head %v, want seq 401", head)
	}
	es, err := ReadAll(context.Background(), l, 1, 0)
	if err != nil || len(es) != 401 {
		t.Fatalf("read %d entries: %v", len(es), err)
	}
	if err := VerifyAnchored(es, ChainHead{}, head); err != nil {
		t.Fatal(err)
	}
	page, err := l.Entries(context.Background(), 100, 7)
	if err != nil || len(page) != 7 || page[0].Seq != 100 || page[6].Seq != 106 {
		t.Fatalf("page: %d entries, %v", len(page), err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(KindNodeStopped, Fields{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	rep, err := VerifyNodeLogFile(path, signer.PubKey(), head)
	if err != nil || rep.Entries != 401 || !rep.Head.Equal(head) {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	// Another key does not verify.
	if _, err := VerifyNodeLogFile(path, newSigner(t).PubKey(), ChainHead{}); !errors.Is(err, ErrSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	// Reopen continues the chain.
	l = openTestLog(t, path, signer)
	e, err := l.Append(KindNodeStopped, Fields{})
	if err != nil || e.Seq != 402 || !bytes.Equal(e.PrevHash, head.Hash) {
		t.Fatalf("after reopen: %+v, %v", e, err)
	}
	l.Close()
	// Opening with another key refuses: the node must not extend a log it cannot vouch for.
	if _, err := OpenNodeLog(path, newSigner(t), NodeLogOptions{}); !errors.Is(err, ErrSignature) {
		t.Fatalf("open with another key: %v", err)
	}
}

// writeLog makes a log of n entries in batches of batch entries and returns
// its path, key and the file's records as (type, payload) pairs.
func writeLog(t *testing.T, n, batch int) (string, *security.LocalSigner) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "node.log")
	signer := newSigner(t)
	l := openTestLog(t, path, signer)
	for i := 0; i < n; i += batch {
		for j := i; j < min(i+batch, n); j++ {
			if err := l.Record(KindCheckTxRejected, Fields{Actor: "c", Message: fmt.Sprint(j), Code: 8, CodeName: "REPLAY"}); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return path, signer
}

type record struct {
	typ     byte
	payload []byte
}

func readRecords(t *testing.T, path string) []record {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(b[len(nodeLogMagic):])
	var out []record
	for r.Len() > 0 {
		typ, p, err := readRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, record{typ, append([]byte(nil), p...)})
	}
	return out
}

func writeRecords(t *testing.T, path string, recs []record) {
	t.Helper()
	b := []byte(nodeLogMagic)
	for _, r := range recs {
		b = appendRecord(b, r.typ, r.payload)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// sigRecords returns the indexes of the signature records.
func sigRecords(recs []record) []int {
	var idx []int
	for i, r := range recs {
		if r.typ == recSig {
			idx = append(idx, i)
		}
	}
	return idx
}

// entryRecords returns the indexes of the entry records, by seq-1.
func entryRecords(recs []record) []int {
	var idx []int
	for i, r := range recs {
		if r.typ == recEntry {
			idx = append(idx, i)
		}
	}
	return idx
}

// TestNodeLogTamper: editing, deleting, reordering and truncating entries
// in the stored file are each caught by VerifyNodeLogFile with the first
// bad seq.
func TestNodeLogTamper(t *testing.T) {
	const n = 50
	cases := []struct {
		name    string
		tamper  func(t *testing.T, recs []record) []record
		wantSeq uint64
		wantErr error
	}{
		{"edit", func(t *testing.T, recs []record) []record {
			i := entryRecords(recs)[23]
			e, _ := Decode(recs[i].payload)
			e.Message = "edited"
			recs[i].payload = e.Encode()
			return recs
		}, 24, ErrHash},
		{"edit and rehash the chain", func(t *testing.T, recs []record) []record {
			// The attacker recomputes every hash after the edit and the
			// signature records' (seq, hash), but cannot sign.
			idx := entryRecords(recs)
			var es []Entry
			for _, i := range idx {
				e, _ := Decode(recs[i].payload)
				es = append(es, e)
			}
			es[23].Message = "edited"
			c := NewChain(ChainHead{Seq: 23, Hash: es[22].Hash})
			for k := 23; k < n; k++ {
				es[k] = c.Append(es[k])
				recs[idx[k]].payload = es[k].Encode()
			}
			for i, r := range recs {
				if r.typ == recSig {
					s, _ := decodeNodeSig(r.payload)
					s.Hash = es[s.Seq-1].Hash
					recs[i].payload = s.encode()
				}
			}
			return recs
		}, 0, ErrSignature}, // the first seq after the last signature before seq 24: computed below
		{"flip a byte", func(t *testing.T, recs []record) []record {
			return nil // handled below: raw file edit, CRC fails
		}, 0, nil},
		{"delete", func(t *testing.T, recs []record) []record {
			i := entryRecords(recs)[30]
			return append(recs[:i:i], recs[i+1:]...)
		}, 31, ErrGap},
		{"reorder", func(t *testing.T, recs []record) []record {
			idx := entryRecords(recs)
			recs[idx[40]], recs[idx[41]] = recs[idx[41]], recs[idx[40]]
			return recs
		}, 41, ErrGap},
		{"truncate at a signature", func(t *testing.T, recs []record) []record {
			sigs := sigRecords(recs)
			return recs[:sigs[len(sigs)-2]+1] // drop the last batch, signature and all
		}, 0, ErrTruncated},
		{"drop the last signature", func(t *testing.T, recs []record) []record {
			return recs[:len(recs)-1]
		}, 0, ErrUnsigned},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, signer := writeLog(t, n, 10)
			rep, err := VerifyNodeLogFile(path, signer.PubKey(), ChainHead{})
			if err != nil || rep.Entries != n || rep.Signatures < 5 {
				t.Fatalf("before tampering: %+v, %v", rep, err)
			}
			anchor := rep.Head // what a SIEM that received everything knows
			wantSeq, wantErr := tc.wantSeq, tc.wantErr
			if wantSeq == 0 {
				// Group commit decides the batches: the first bad seq is the
				// first one after the last signature before the damage.
				before := uint64(24)
				if wantErr != ErrSignature {
					before = n
				}
				wantSeq = 1
				for _, r := range readRecords(t, path) {
					if s, _ := decodeNodeSig(r.payload); r.typ == recSig && s.Seq < before {
						wantSeq = s.Seq + 1
					}
				}
			}
			if recs := tc.tamper(t, readRecords(t, path)); recs != nil {
				writeRecords(t, path, recs)
			} else {
				b, _ := os.ReadFile(path)
				b[len(b)/2] ^= 0x20
				os.WriteFile(path, b, 0o600)
				wantSeq, wantErr = 0, ErrCorrupt // the seq depends on where the byte lands
			}
			_, err = VerifyNodeLogFile(path, signer.PubKey(), anchor)
			seq, ok := FirstBadSeq(err)
			if !ok || !errors.Is(err, wantErr) {
				t.Fatalf("got %v; want %v", err, wantErr)
			}
			if wantErr != ErrCorrupt && seq != wantSeq {
				t.Fatalf("first bad seq %d, want %d: %v", seq, wantSeq, err)
			}
			t.Logf("detected: %v", err)
			// The node refuses to extend a tampered log; a cut at a
			// signature boundary is caught by the high-water mark.
			if _, err := OpenNodeLog(path, signer, NodeLogOptions{}); !errors.Is(err, ErrNodeLogTruncated) {
				t.Fatalf("opened a tampered log: %v", err)
			}
		})
	}
}

// TestNodeLogTornTail: a crash mid-batch leaves an incomplete record or
// unsigned entries at the end. Opening refuses; with AcceptTruncated it
// moves them aside, marks their seqs lost and continues after them.
func TestNodeLogTornTail(t *testing.T) {
	for _, cut := range []int{1, 7, 40} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			path, signer := writeLog(t, 20, 10)
			b, _ := os.ReadFile(path)
			signedSize := len(b)
			// Append a batch's worth of bytes, cut short: as if the write of
			// entries 21-30 and their signature was interrupted.
			es, err := ReadNodeLogFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c := NewChain(ChainHead{Seq: 20, Hash: es[19].Hash})
			extra := []byte{}
			for i := range 10 {
				e := c.Append(Entry{Kind: KindAuthFailed, Message: fmt.Sprint(i)})
				extra = appendRecord(extra, recEntry, e.Encode())
			}
			h := c.Head()
			sig, _ := signer.Sign(NodeSignBytes(h.Seq, h.Hash))
			extra = appendRecord(extra, recSig, nodeSig{Seq: h.Seq, Hash: h.Hash, PubKey: signer.PubKey(), Sig: sig}.encode())
			torn := append(b, extra[:len(extra)-cut]...)
			os.WriteFile(path, torn, 0o600)
			if _, err := VerifyNodeLogFile(path, signer.PubKey(), ChainHead{}); err == nil {
				t.Fatal("verify accepted a torn tail")
			}
			if _, err := OpenNodeLog(path, signer, NodeLogOptions{}); !errors.Is(err, ErrNodeLogTruncated) {
				t.Fatalf("opened a torn log without AcceptTruncated: %v", err)
			}
			if b, _ := os.ReadFile(path); !bytes.Equal(b, torn) {
				t.Fatal("a refused open changed the file")
			}
			l, err := OpenNodeLog(path, signer, NodeLogOptions{AcceptTruncated: true})
			if err != nil {
				t.Fatal(err)
			}
			// Entries 21-30 were written (unsigned): their seqs are not reused.
			r := l.Recovery()
			if r == nil || r.Kept.Seq != 20 || r.HighWater.Seq != 30 || r.Entry.Seq != 31 || r.Entry.Kind != KindNodeLogTruncated {
				t.Fatalf("recovery %+v", r)
			}
			e, err := l.Append(KindNodeStarted, Fields{})
			if err != nil || e.Seq != 32 {
				t.Fatalf("append after recovery: seq %d, %v", e.Seq, err)
			}
			l.Close()
			rep, err := VerifyNodeLogFile(path, signer.PubKey(), ChainHead{})
			if err != nil || len(rep.Gaps) != 1 || rep.Gaps[0].From.Seq != 20 || rep.Gaps[0].To.Seq != 30 || rep.Entries != 22 {
				t.Fatalf("verify after recovery: %+v, %v", rep, err)
			}
			aside, err := os.ReadFile(fmt.Sprintf("%s.torn-%d", path, signedSize))
			if err != nil || len(aside) != len(extra)-cut {
				t.Fatalf("torn bytes not kept: %d bytes, %v", len(aside), err)
			}
		})
	}
}

func TestKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config", "audit_key.json")
	s1, err := LoadOrGenerateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	s2, err := LoadOrGenerateKey(path)
	if err != nil || !bytes.Equal(s1.PubKey(), s2.PubKey()) {
		t.Fatalf("reload gave another key: %v", err)
	}
	pub, err := LoadPubKey(path)
	if err != nil || !bytes.Equal(pub, s1.PubKey()) {
		t.Fatal("LoadPubKey")
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
}

// BenchmarkNodeLogRecord: events recorded from 8 goroutines, made durable
// (write + signature + fsync per group-committed batch).
func BenchmarkNodeLogRecord(b *testing.B) {
	signer, _ := security.GenerateKey()
	l, err := OpenNodeLog(filepath.Join(b.TempDir(), "node.log"), signer, NodeLogOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	f := Fields{Actor: "3f9a5c0e6d7b8a1f2e3d4c5b6a7980f1e2d3c4b5", Action: "check_tx", Code: 5, CodeName: "BAD_SIGNATURE",
		Message: "signature 0 does not verify", TxHash: make([]byte, 32)}
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := l.Record(KindCheckTxRejected, f); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := l.Sync(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// TestNodeLogTruncationIsLoud: a log cut back to an earlier signature, or
// deleted, is refused by default (the high-water mark tells); accepted, it
// continues after the highest seq ever written, records the event, and
// verifies, with the gap signed and reported.
func TestNodeLogTruncationIsLoud(t *testing.T) {
	path, signer := writeLog(t, 50, 10)
	full, err := ReadNodeLogFile(path)
	if err != nil || len(full) != 50 {
		t.Fatalf("%d entries, %v", len(full), err)
	}
	top := ChainHead{Seq: 50, Hash: full[49].Hash}
	recs := readRecords(t, path)
	sigs := sigRecords(recs)
	writeRecords(t, path, recs[:sigs[len(sigs)-2]+1]) // drop the last batch
	cut, _ := ReadNodeLogFile(path)
	kept := cut[len(cut)-1].Seq
	if kept >= 50 {
		t.Fatalf("nothing was cut: %d", kept)
	}
	before, _ := os.ReadFile(path)

	_, err = OpenNodeLog(path, signer, NodeLogOptions{})
	if !errors.Is(err, ErrNodeLogTruncated) || !errors.Is(err, ErrTruncated) {
		t.Fatalf("open of a truncated log: %v", err)
	}
	t.Logf("refused: %v", err)
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("a refused open changed the log")
	}

	l, err := OpenNodeLog(path, signer, NodeLogOptions{Now: testClock(), AcceptTruncated: true})
	if err != nil {
		t.Fatal(err)
	}
	r := l.Recovery()
	if r == nil || r.Kept.Seq != kept || !r.HighWater.Equal(top) || r.Lost() != 50-kept {
		t.Fatalf("recovery %+v", r)
	}
	if r.Entry.Seq != 51 || r.Entry.Kind != KindNodeLogTruncated || !bytes.Equal(r.Entry.PrevHash, top.Hash) {
		t.Fatalf("truncation entry %+v", r.Entry)
	}
	e, err := l.Append(KindNodeStarted, Fields{})
	if err != nil || e.Seq != 52 {
		t.Fatalf("next append: seq %d, %v", e.Seq, err)
	}
	// A reader never gets entries across the gap in one page, and one
	// asking from inside the gap gets what follows it.
	ctx := context.Background()
	if es, _ := l.Entries(ctx, 1, 100); len(es) != int(kept) || es[len(es)-1].Seq != kept {
		t.Fatalf("entries from 1: %d", len(es))
	}
	if es, _ := l.Entries(ctx, kept+1, 100); len(es) != 2 || es[0].Seq != 51 || es[1].Seq != 52 {
		t.Fatalf("entries from inside the gap: %v", es)
	}
	if es, _ := l.Entries(ctx, 53, 100); len(es) != 0 {
		t.Fatalf("entries past the head: %v", es)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// A SIEM that had everything up to 50 sees the chain go on from there.
	rep, err := VerifyNodeLogFile(path, signer.PubKey(), top)
	if err != nil || len(rep.Gaps) != 1 || rep.Head.Seq != 52 || rep.Entries != kept+2 {
		t.Fatalf("verify: %+v, %v", rep, err)
	}
	// kept+1 is the first lost seq (the last batch's size depends on timing).
	if _, err := VerifyNodeLogFile(path, signer.PubKey(), ChainHead{Seq: kept + 1, Hash: full[kept].Hash}); !errors.Is(err, ErrTruncated) {
		t.Fatalf("an anchor inside the gap: %v", err)
	}
	// The accepted gap is history now: the log opens clean.
	l = openTestLog(t, path, signer)
	if l.Recovery() != nil {
		t.Fatal("recovery reported twice")
	}
	if e, err := l.Append(KindNodeStarted, Fields{}); err != nil || e.Seq != 53 {
		t.Fatalf("after reopen: seq %d, %v", e.Seq, err)
	}
	l.Close()

	// Deleting the log is truncation too.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenNodeLog(path, signer, NodeLogOptions{}); !errors.Is(err, ErrNodeLogTruncated) {
		t.Fatalf("open of a deleted log: %v", err)
	}
	l, err = OpenNodeLog(path, signer, NodeLogOptions{AcceptTruncated: true})
	if err != nil {
		t.Fatal(err)
	}
	if r := l.Recovery(); r == nil || r.Kept.Seq != 0 || r.HighWater.Seq != 53 || r.Entry.Seq != 54 {
		t.Fatalf("recovery of a deleted log: %+v", r)
	}
	l.Close()
	if rep, err := VerifyNodeLogFile(path, signer.PubKey(), ChainHead{}); err != nil || rep.Head.Seq != 54 || rep.Entries != 1 {
		t.Fatalf("verify the restarted log: %+v, %v", rep, err)
	}

	// A gap record is signed: a forged one (another key) does not verify.
	other := newSigner(t)
	if _, err := VerifyNodeLogFile(path, other.PubKey(), ChainHead{}); !errors.Is(err, ErrSignature) {
		t.Fatalf("verify with another key: %v", err)
	}

	// A log whose high-water mark is gone (an older version's) gets one.
	if err := os.Remove(path + hwmSuffix); err != nil {
		t.Fatal(err)
	}
	l = openTestLog(t, path, signer)
	if !l.HighWaterMarkCreated() {
		t.Fatal("missing high-water mark not reported")
	}
	l.Close()
}
