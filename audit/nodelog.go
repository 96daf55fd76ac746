package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/dstt/dstt/security"
)

// Errors from NodeLog.
var (
	ErrClosed   = errors.New("audit: node log closed")
	ErrTooLarge = errors.New("audit: entry too large")
	// ErrNodeLogTruncated: OpenNodeLog found the log cut short or damaged
	// (entries the high-water mark says were written are missing, or bytes
	// after the last signature do not verify) and, without
	// NodeLogOptions.AcceptTruncated, changed nothing.
	ErrNodeLogTruncated = errors.New("audit: node log truncated or damaged")
)

// Fields are what the caller of NodeLog.Append says about an event; the
// log adds Kind, Time, Seq and the hashes.
type Fields struct {
	Height    uint64
	TxIndex   uint32
	Actor     string
	Endpoint  string // the client's network address (Entry.Endpoint)
	Action    string
	Resources []string
	Code      uint32
	CodeName  string
	Message   string
	TxHash    []byte
}

// NodeLogOptions tune a NodeLog. Zero values take the defaults.
type NodeLogOptions struct {
	// Now stamps entries (default time.Now). The node chain is node-local,
	// so wall-clock time is right here, unlike in the consensus chain.
	Now func() time.Time
	// QueueSize bounds the entries Record may have waiting (default 8192);
	// Record blocks when it is full.
	QueueSize int
	// MaxBatch bounds the entries written and signed together (default 4096).
	MaxBatch int
	// AcceptTruncated opens a log that OpenNodeLog would refuse with
	// ErrNodeLogTruncated: bytes after the last good signature are moved
	// to PATH.torn-OFFSET, a gap record signed by the node's key marks the
	// sequence numbers lost (up to the highest ever written, from the
	// high-water mark or the damaged tail), the chain continues after them,
	// and a KindNodeLogTruncated entry records the event (Recovery).
	AcceptTruncated bool
}

func (o NodeLogOptions) withDefaults() NodeLogOptions {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 8192
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 4096
	}
	return o
}

type nodeReq struct {
	entry Entry
	done  chan nodeResult // nil for Record
	sync  bool            // a Sync marker: no entry
}

type nodeResult struct {
	entry Entry
	err   error
}

// NodeLog is the node security chain: node-local events hash-chained,
// signed with the node's audit key and appended to a file. One goroutine
// writes: it takes every request waiting (group commit), appends them to
// the chain, signs the new head, writes entries and signature in one write
// and fsyncs. Append returns once its entry is durable and signed; Record
// only queues. Safe for concurrent use. Implements Source and Notifier.
type NodeLog struct {
	path   string
	signer security.Signer
	pub    []byte
	opts   NodeLogOptions

	queue chan nodeReq
	done  chan struct{}

	sendMu sync.RWMutex // guards closed against sends on queue
	closed bool

	mu      sync.RWMutex // guards the fields below
	f       *os.File
	hwm     *hwmFile
	chain   *Chain
	offsets []int64      // file offset of each entry's record, in file order
	segs    []logSegment // runs of consecutive seqs in offsets (a gap starts one)
	size    int64
	err     error         // sticky write failure
	changed chan struct{} // closed when entries are added

	recovery   *NodeLogRecovery // set by an accepted truncation
	hwmCreated bool             // a log with entries had no high-water mark
}

var (
	_ Source   = (*NodeLog)(nil)
	_ Notifier = (*NodeLog)(nil)
)

// OpenNodeLog opens (or creates, with its directory) the node log at path
// and its high-water mark PATH.hwm, and starts its writer. Every stored
// signature is checked against signer's key.
//
// A log that lost entries (it ends before the high-water mark: cut back, or
// deleted) or has bytes after its last good signature that do not verify (a
// torn write, corruption, tampering) is refused with ErrNodeLogTruncated
// (wrapping the *VerifyError when there is one), and nothing is changed:
// the node must not append to a log it cannot vouch for, nor reuse a
// sequence number a SIEM may already hold. NodeLogOptions.AcceptTruncated
// opens it anyway, loudly (see there and Recovery). A log with entries but
// no high-water mark (one written before marks existed) gets one
// (HighWaterMarkCreated).
func OpenNodeLog(path string, signer security.Signer, opts NodeLogOptions) (*NodeLog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("audit: node log dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("audit: open node log: %w", err)
	}
	l, err := openNodeLog(f, path, signer, opts.withDefaults())
	if err != nil {
		f.Close()
		return nil, err
	}
	go l.run()
	if l.recovery != nil {
		if err := l.recordRecovery(); err != nil {
			l.Close()
			return nil, fmt.Errorf("audit: record the accepted truncation: %w", err)
		}
	}
	return l, nil
}

// openNodeLog reads the log in f, checks it against its high-water mark,
// recovers it if that is accepted, and (re)writes the mark. The writer is
// not started.
func openNodeLog(f *os.File, path string, signer security.Signer, opts NodeLogOptions) (*NodeLog, error) {
	size, err := nodeLogSize(f, path)
	if err != nil {
		return nil, err
	}
	pub := signer.PubKey()
	sc, err := scanNodeLog(io.NewSectionReader(f, 0, size), size, pub, false)
	if err != nil {
		return nil, fmt.Errorf("audit: node log %s: %w", path, err)
	}
	hwmPath := path + hwmSuffix
	mark, found, hwmErr := readHWM(hwmPath)
	t := checkTruncation(sc, size, hwmPath, mark, found, hwmErr)
	l := &NodeLog{
		path: path, signer: signer, pub: pub, opts: opts,
		queue:   make(chan nodeReq, opts.QueueSize),
		done:    make(chan struct{}),
		f:       f,
		offsets: sc.offsets,
		segs:    sc.segs,
		size:    size,
		changed: make(chan struct{}),
	}
	head := sc.signedHead
	if t.found() {
		if !opts.AcceptTruncated {
			return nil, t.refusal(path)
		}
		if head, err = l.acceptTruncation(sc, t); err != nil {
			return nil, err
		}
	} else if !found && sc.signedHead.Seq > 0 {
		l.hwmCreated = true
	}
	l.chain = NewChain(head)
	if l.hwm, err = createHWM(hwmPath, head); err != nil {
		return nil, err
	}
	return l, nil
}

// nodeLogSize returns the size of the log in f, first writing the header
// (durably) if the file is empty.
func nodeLogSize(f *os.File, path string) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if st.Size() != 0 {
		return st.Size(), nil
	}
	if _, err := f.Write([]byte(nodeLogMagic)); err != nil {
		return 0, fmt.Errorf("audit: write node log header: %w", err)
	}
	if err := syncFileAndDir(f, path); err != nil {
		return 0, err
	}
	return int64(len(nodeLogMagic)), nil
}

func syncFileAndDir(f *os.File, path string) error {
	if err := f.Sync(); err != nil {
		return fmt.Errorf("audit: fsync %s: %w", path, err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Path returns the file's path.
func (l *NodeLog) Path() string { return l.path }

// PubKey returns the public key that verifies this log.
func (l *NodeLog) PubKey() []byte { return append([]byte(nil), l.pub...) }

func (l *NodeLog) newEntry(kind Kind, f Fields) (Entry, error) {
	e := Entry{
		Height: f.Height, TxIndex: f.TxIndex, Time: l.opts.Now(), Kind: kind,
		Actor: f.Actor, Endpoint: f.Endpoint, Action: f.Action, Resources: f.Resources, Code: f.Code,
		CodeName: f.CodeName, Message: f.Message, TxHash: f.TxHash,
	}.Clone()
	if n := len(e.Encode()) + 3*32 + 30; n > MaxNodeEntryBytes {
		return Entry{}, fmt.Errorf("%w: %s entry of about %d bytes, the limit is %d", ErrTooLarge, kind, n, MaxNodeEntryBytes)
	}
	return e, nil
}

func (l *NodeLog) send(r nodeReq) error {
	l.sendMu.RLock()
	defer l.sendMu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	l.queue <- r
	return nil
}

// Append records an event and returns its entry once it is written,
// signed and fsynced.
func (l *NodeLog) Append(kind Kind, f Fields) (Entry, error) {
	e, err := l.newEntry(kind, f)
	if err != nil {
		return Entry{}, err
	}
	done := make(chan nodeResult, 1)
	if err := l.send(nodeReq{entry: e, done: done}); err != nil {
		return Entry{}, err
	}
	res := <-done
	return res.entry, res.err
}

// Record queues an event without waiting for the disk: for hot paths such as
// CheckTx rejections. Write failures surface from Sync, Append and Close.
// It blocks only while the queue is full.
func (l *NodeLog) Record(kind Kind, f Fields) error {
	e, err := l.newEntry(kind, f)
	if err != nil {
		return err
	}
	return l.send(nodeReq{entry: e})
}

// Sync waits until everything recorded before it is durable.
func (l *NodeLog) Sync() error {
	done := make(chan nodeResult, 1)
	if err := l.send(nodeReq{sync: true, done: done}); err != nil {
		return err
	}
	return (<-done).err
}

// Close writes what is queued and closes the file.
func (l *NodeLog) Close() error {
	l.sendMu.Lock()
	if l.closed {
		l.sendMu.Unlock()
		<-l.done
		return ErrClosed
	}
	l.closed = true
	close(l.queue)
	l.sendMu.Unlock()
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	err := errors.Join(l.f.Close(), l.hwm.close())
	if l.err != nil {
		return l.err
	}
	return err
}

// run is the writer goroutine.
func (l *NodeLog) run() {
	defer close(l.done)
	batch := make([]nodeReq, 0, l.opts.MaxBatch)
	var buf []byte
	for first := range l.queue {
		batch = append(batch[:0], first)
		n := 0
		if !first.sync {
			n = 1
		}
	drain:
		for n < l.opts.MaxBatch && len(buf) < maxBatchBytes {
			select {
			case r, ok := <-l.queue:
				if !ok {
					break drain
				}
				batch = append(batch, r)
				if !r.sync {
					n++
				}
			default:
				break drain
			}
		}
		buf = l.writeBatch(batch, buf[:0])
	}
}

// writeBatch appends the batch's entries, signs the new head, writes and
// fsyncs, then answers the waiters.
func (l *NodeLog) writeBatch(batch []nodeReq, buf []byte) []byte {
	l.mu.RLock()
	err := l.err
	chain := NewChain(l.chain.Head())
	base := l.size
	l.mu.RUnlock()
	results := make([]nodeResult, len(batch))
	var offsets []int64
	if err == nil {
		for i, r := range batch {
			if r.sync {
				continue
			}
			offsets = append(offsets, base+int64(len(buf)))
			e := chain.Append(r.entry)
			buf = appendRecord(buf, recEntry, e.Encode())
			results[i].entry = e
		}
		if len(offsets) > 0 {
			head := chain.Head()
			sig, serr := l.signer.Sign(NodeSignBytes(head.Seq, head.Hash))
			if serr != nil {
				err = fmt.Errorf("audit: sign node log head %s: %w", head, serr)
			} else {
				buf = appendRecord(buf, recSig, nodeSig{Seq: head.Seq, Hash: head.Hash, PubKey: l.pub, Sig: sig}.encode())
				if _, werr := l.f.WriteAt(buf, base); werr != nil {
					err = fmt.Errorf("audit: write node log: %w", werr)
				} else if serr := l.f.Sync(); serr != nil {
					err = fmt.Errorf("audit: fsync node log: %w", serr)
				}
			}
		}
		// The batch is durable: raise the high-water mark. Should that
		// fail, the batch stands but nothing more is written.
		var hwmErr error
		if err == nil && len(offsets) > 0 {
			hwmErr = l.hwm.save(chain.Head())
		}
		l.mu.Lock()
		if hwmErr != nil {
			l.err = hwmErr
		}
		if err != nil {
			l.err = err
		} else if len(offsets) > 0 {
			l.chain = chain
			l.offsets = append(l.offsets, offsets...)
			l.size = base + int64(len(buf))
			close(l.changed)
			l.changed = make(chan struct{})
		}
		l.mu.Unlock()
	}
	for i, r := range batch {
		if r.done == nil {
			continue
		}
		if err != nil {
			r.done <- nodeResult{err: err}
		} else {
			r.done <- results[i]
		}
	}
	return buf
}

// indexRange maps fromSeq to the entries [first, last) of offsets to read:
// at most limit, never across a gap (a reader verifying the chain stops
// there anyway). A fromSeq inside a gap starts after it. ok is false past
// the head.
func (l *NodeLog) indexRange(fromSeq uint64, limit int) (first, last int, ok bool) {
	si := max(sort.Search(len(l.segs), func(i int) bool { return l.segs[i].first > fromSeq })-1, 0)
	for ; si < len(l.segs); si++ {
		seg := l.segs[si]
		end := len(l.offsets)
		if si+1 < len(l.segs) {
			end = l.segs[si+1].idx
		}
		skip := uint64(0)
		if fromSeq > seg.first {
			skip = fromSeq - seg.first
		}
		if skip < uint64(end-seg.idx) {
			first = seg.idx + int(skip)
			return first, min(first+limit, end), true
		}
	}
	return 0, 0, false
}

// Changed implements Notifier.
func (l *NodeLog) Changed() <-chan struct{} {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.changed
}

// Head implements Source: the last durable, signed entry.
func (l *NodeLog) Head(ctx context.Context) (ChainHead, error) {
	if err := ctx.Err(); err != nil {
		return ChainHead{}, err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.chain.Head(), nil
}

// Entries implements Source, reading the file.
func (l *NodeLog) Entries(ctx context.Context, fromSeq uint64, limit int) ([]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if fromSeq == 0 {
		fromSeq = 1
	}
	if limit <= 0 {
		limit = DefaultPage
	}
	limit = min(limit, MaxPage)
	l.mu.RLock()
	first, last, ok := l.indexRange(fromSeq, limit)
	if !ok {
		l.mu.RUnlock()
		return nil, nil
	}
	start := l.offsets[first]
	end := l.size
	if last < len(l.offsets) {
		end = l.offsets[last]
	}
	f := l.f
	l.mu.RUnlock()
	buf := make([]byte, end-start)
	if _, err := f.ReadAt(buf, start); err != nil {
		return nil, fmt.Errorf("audit: read node log: %w", err)
	}
	want := last - first
	out := make([]Entry, 0, want)
	r := bytes.NewReader(buf)
	for r.Len() > 0 && len(out) < want {
		typ, payload, err := readRecord(r)
		if err != nil {
			return nil, err
		}
		if typ != recEntry {
			continue
		}
		e, err := Decode(payload)
		if err != nil {
			return nil, fmt.Errorf("audit: node log entry: %w", err)
		}
		out = append(out, e)
	}
	return out, nil
}
