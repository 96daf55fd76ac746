package sink

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/format"
)

// FileOptions configure a FileSink.
type FileOptions struct {
	Path     string
	MaxBytes int64 // rotate before the file would pass this (default 100 MiB)
	MaxFiles int   // rotated files kept: PATH.1 (newest) .. PATH.N (default 5)
}

// FileSink appends one record per line to a file, rotating by size. A
// batch is acknowledged after write and fsync. A batch never straddles two
// files.
type FileSink struct {
	name string
	opts FileOptions
	f    format.Formatter
	file *os.File
	size int64
	buf  []byte
}

var _ Sink = (*FileSink)(nil)

// NewFileSink returns a sink writing records made by f to opts.Path.
func NewFileSink(name string, f format.Formatter, opts FileOptions) (*FileSink, error) {
	if opts.Path == "" {
		return nil, fmt.Errorf("sink %s: file path missing", name)
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 100 << 20
	}
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = 5
	}
	return &FileSink{name: name, opts: opts, f: f}, nil
}

// Name implements Sink.
func (s *FileSink) Name() string { return s.name }

func (s *FileSink) open() error {
	if err := os.MkdirAll(filepath.Dir(s.opts.Path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(s.opts.Path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	s.file, s.size = f, st.Size()
	return nil
}

func (s *FileSink) rotate() error {
	if err := s.file.Close(); err != nil {
		return err
	}
	s.file = nil
	os.Remove(fmt.Sprintf("%s.%d", s.opts.Path, s.opts.MaxFiles))
	for i := s.opts.MaxFiles - 1; i >= 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", s.opts.Path, i), fmt.Sprintf("%s.%d", s.opts.Path, i+1))
	}
	if err := os.Rename(s.opts.Path, s.opts.Path+".1"); err != nil {
		return err
	}
	return s.open()
}

// Send implements Sink.
func (s *FileSink) Send(_ context.Context, entries []audit.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	if s.file == nil {
		if err := s.open(); err != nil {
			return fmt.Errorf("sink %s: %w", s.name, err)
		}
	}
	s.buf = s.buf[:0]
	for i := range entries {
		s.buf = s.f.Append(s.buf, &entries[i])
		s.buf = append(s.buf, '\n')
	}
	if s.size > 0 && s.size+int64(len(s.buf)) > s.opts.MaxBytes {
		if err := s.rotate(); err != nil {
			return fmt.Errorf("sink %s: rotate: %w", s.name, err)
		}
	}
	before := s.size
	n, err := s.file.Write(s.buf)
	s.size += int64(n)
	if err == nil {
		err = s.file.Sync()
	}
	if err != nil {
		s.file.Truncate(before) // best effort: no half line before the retry
		s.file.Close()
		s.file = nil
		return fmt.Errorf("sink %s: %w", s.name, err)
	}
	return nil
}

// Close implements Sink.
func (s *FileSink) Close() error {
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}
