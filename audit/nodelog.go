package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/dstt/dstt/security"
)

// Errors from NodeLog.
var (
	ErrClosed   = errors.New("audit: node log closed")
	ErrTooLarge = errors.New("audit: entry too large")
)

// Fields are what the caller of NodeLog.Append says about an event; the
// log adds Kind, Time, Seq and the hashes.
type Fields struct {
	Height    uint64
	TxIndex   uint32
	Actor     string
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
	chain   *Chain
	offsets []int64 // file offset of each entry's record, by seq-1
	size    int64
	err     error         // sticky write failure
	changed chan struct{} // closed when entries are added
}

var (
	_ Source   = (*NodeLog)(nil)
	_ Notifier = (*NodeLog)(nil)
)

// OpenNodeLog opens (or creates, with its directory) the node log at path
// and starts its writer. Every stored signature is checked against signer's
// key. If a crash left a torn batch at the end (an incomplete record, or
// entries without their signature), those bytes are moved to
// PATH.torn-OFFSET and the file is cut back to its last signature; none of
// them had been acknowledged. Any other damage is an error (wrapping a
// *VerifyError): the node must not append to a log it cannot vouch for.
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
	return l, nil
}

func openNodeLog(f *os.File, path string, signer security.Signer, opts NodeLogOptions) (*NodeLog, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := st.Size()
	if size == 0 {
		if _, err := f.Write([]byte(nodeLogMagic)); err != nil {
			return nil, fmt.Errorf("audit: write node log header: %w", err)
		}
		if err := syncFileAndDir(f, path); err != nil {
			return nil, err
		}
		size = int64(len(nodeLogMagic))
	}
	pub := signer.PubKey()
	sc, err := scanNodeLog(io.NewSectionReader(f, 0, size), size, pub, false)
	if err != nil {
		return nil, fmt.Errorf("audit: node log %s: %w", path, err)
	}
	if sc.tailErr != nil {
		if !errors.Is(sc.tailErr, errTorn) || sc.tailBytes > maxTornBytes {
			return nil, fmt.Errorf("audit: node log %s is damaged after its last good signature (seq %d, offset %d); verify it with `dstt audit verify --node-log` and move it aside: %w",
				path, sc.signedHead.Seq, sc.signedEnd, sc.tailErr)
		}
		if err := saveTornTail(f, path, sc.signedEnd, size); err != nil {
			return nil, err
		}
		size = sc.signedEnd
	}
	return &NodeLog{
		path: path, signer: signer, pub: pub, opts: opts,
		queue:   make(chan nodeReq, opts.QueueSize),
		done:    make(chan struct{}),
		f:       f,
		chain:   NewChain(sc.signedHead),
		offsets: sc.offsets,
		size:    size,
		changed: make(chan struct{}),
	}, nil
}

func saveTornTail(f *os.File, path string, from, size int64) error {
	tail := make([]byte, size-from)
	if _, err := f.ReadAt(tail, from); err != nil {
		return fmt.Errorf("audit: read torn tail: %w", err)
	}
	aside := fmt.Sprintf("%s.torn-%d", path, from)
	if err := os.WriteFile(aside, tail, 0o600); err != nil {
		return fmt.Errorf("audit: save torn tail: %w", err)
	}
	if err := f.Truncate(from); err != nil {
		return fmt.Errorf("audit: cut torn tail: %w", err)
	}
	return syncFileAndDir(f, path)
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
		Actor: f.Actor, Action: f.Action, Resources: f.Resources, Code: f.Code,
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
	err := l.f.Close()
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
		l.mu.Lock()
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
	n := uint64(len(l.offsets))
	if fromSeq > n {
		l.mu.RUnlock()
		return nil, nil
	}
	last := min(fromSeq-1+uint64(limit), n) // exclusive index
	start := l.offsets[fromSeq-1]
	end := l.size
	if last < n {
		end = l.offsets[last]
	}
	f := l.f
	l.mu.RUnlock()
	buf := make([]byte, end-start)
	if _, err := f.ReadAt(buf, start); err != nil {
		return nil, fmt.Errorf("audit: read node log: %w", err)
	}
	out := make([]Entry, 0, last-(fromSeq-1))
	r := bytes.NewReader(buf)
	for r.Len() > 0 && uint64(len(out)) < last-(fromSeq-1) {
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
