package sink

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/format"
)

// Framing of syslog messages on a stream.
const (
	FramingOctetCounting = "octet-counting" // RFC 6587 3.4.1 / RFC 5425 4.3: "LEN SP MSG"
	FramingLF            = "lf"             // RFC 6587 3.4.2: MSG LF (MSG must not hold LF)
)

// SyslogOptions configure a SyslogSink.
type SyslogOptions struct {
	Address string      // host:port
	TLS     *tls.Config // nil: plain TCP; else RFC 5425 syslog over TLS
	Framing string      // FramingOctetCounting (default) or FramingLF
	// DialTimeout and WriteTimeout bound each connection attempt and each
	// batch write (default 5 s, 10 s).
	DialTimeout, WriteTimeout time.Duration
	// ResendBytes is how much recently written data a broken connection may
	// have lost in socket buffers and the receiver's memory (default 16 MiB):
	// see Rewinder.
	ResendBytes int64
}

// SyslogSink sends RFC 5424 messages over TCP or TLS, one connection,
// redialled after any failure.
type SyslogSink struct {
	name string
	opts SyslogOptions
	f    format.Formatter

	conn net.Conn
	w    *bufio.Writer
	buf  []byte
	// sent records, for the current connection, the first seq of each batch
	// and the stream offset at which it started, oldest first, trimmed to
	// ResendBytes; resendFrom is what ResendFrom reports after a failure.
	sent       []sentMark
	written    int64
	resendFrom uint64
	rewind     bool
}

type sentMark struct {
	seq uint64
	off int64
}

var (
	_ Sink     = (*SyslogSink)(nil)
	_ Rewinder = (*SyslogSink)(nil)
)

// NewSyslogSink returns a sink that formats with f (wrapped in an RFC 5424
// header when f is not itself rfc5424: see format.Syslog). It dials on
// first use.
func NewSyslogSink(name string, f format.Formatter, fopts format.Options, opts SyslogOptions) (*SyslogSink, error) {
	if opts.Framing == "" {
		opts.Framing = FramingOctetCounting
	}
	if opts.Framing != FramingOctetCounting && opts.Framing != FramingLF {
		return nil, fmt.Errorf("sink %s: framing %q is not %s or %s", name, opts.Framing, FramingOctetCounting, FramingLF)
	}
	if _, _, err := net.SplitHostPort(opts.Address); err != nil {
		return nil, fmt.Errorf("sink %s: address %q: %v", name, opts.Address, err)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 5 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if opts.ResendBytes <= 0 {
		opts.ResendBytes = 16 << 20
	}
	return &SyslogSink{name: name, opts: opts, f: format.Syslog(f, fopts)}, nil
}

// Name implements Sink.
func (s *SyslogSink) Name() string { return s.name }

func (s *SyslogSink) dial(ctx context.Context) error {
	d := &net.Dialer{Timeout: s.opts.DialTimeout, KeepAlive: 30 * time.Second}
	var conn net.Conn
	var err error
	if s.opts.TLS != nil {
		td := &tls.Dialer{NetDialer: d, Config: s.opts.TLS}
		conn, err = td.DialContext(ctx, "tcp", s.opts.Address)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.opts.Address)
	}
	if err != nil {
		return fmt.Errorf("sink %s: dial %s: %w", s.name, s.opts.Address, err)
	}
	s.conn = conn
	s.w = bufio.NewWriterSize(conn, 256<<10)
	s.sent, s.written = s.sent[:0], 0
	return nil
}

// peerClosed reports whether the receiver has closed the connection (or
// sent anything, which a syslog receiver never does): a non-blocking read.
func (s *SyslogSink) peerClosed() bool {
	if err := s.conn.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return true
	}
	var one [1]byte
	_, err := s.conn.Read(one[:])
	s.conn.SetReadDeadline(time.Time{})
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func (s *SyslogSink) broken() {
	if s.conn != nil {
		s.conn.Close()
	}
	s.conn, s.w = nil, nil
	if len(s.sent) > 0 {
		s.resendFrom, s.rewind = s.sent[0].seq, true
	}
	s.sent = s.sent[:0]
}

// Send implements Sink: frames every entry, writes and flushes.
func (s *SyslogSink) Send(ctx context.Context, entries []audit.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if s.conn != nil && s.peerClosed() {
		s.broken()
		return fmt.Errorf("sink %s: receiver closed the connection", s.name)
	}
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	s.buf = s.buf[:0]
	var rec []byte
	for i := range entries {
		rec = s.f.Append(rec[:0], &entries[i])
		if s.opts.Framing == FramingOctetCounting {
			s.buf = strconv.AppendInt(s.buf, int64(len(rec)), 10)
			s.buf = append(s.buf, ' ')
			s.buf = append(s.buf, rec...)
		} else {
			s.buf = append(s.buf, rec...)
			s.buf = append(s.buf, '\n')
		}
	}
	s.sent = append(s.sent, sentMark{seq: entries[0].Seq, off: s.written})
	deadline := time.Now().Add(s.opts.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	s.conn.SetWriteDeadline(deadline)
	if _, err := s.w.Write(s.buf); err != nil {
		s.broken()
		return fmt.Errorf("sink %s: write: %w", s.name, err)
	}
	if err := s.w.Flush(); err != nil {
		s.broken()
		return fmt.Errorf("sink %s: flush: %w", s.name, err)
	}
	s.written += int64(len(s.buf))
	// Keep only the marks within ResendBytes of the end of the stream
	// (always the one that covers that point).
	for len(s.sent) > 1 && s.written-s.sent[1].off >= s.opts.ResendBytes {
		s.sent = s.sent[1:]
	}
	return nil
}

// ResendFrom implements Rewinder; it reports each broken connection once.
func (s *SyslogSink) ResendFrom() (uint64, bool) {
	if !s.rewind {
		return 0, false
	}
	s.rewind = false
	return s.resendFrom, true
}

// Close implements Sink.
func (s *SyslogSink) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.w.Flush()
	if cerr := s.conn.Close(); err == nil {
		err = cerr
	}
	s.conn, s.w = nil, nil
	return err
}
