package format

import (
	"bufio"
	"context"
	"io"
	"time"

	"github.com/dstt/dstt/audit"
)

// Export writes src's entries fromSeq..toSeq (toSeq 0: to the head), one
// record per line in f's format, to w, and returns how many it wrote.
func Export(ctx context.Context, src audit.Source, fromSeq, toSeq uint64, f Formatter, w io.Writer) (int, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	var buf []byte
	n := 0
	err := audit.Scan(ctx, src, fromSeq, toSeq, 0, func(page []audit.Entry) error {
		for i := range page {
			buf = append(f.Append(buf[:0], &page[i]), '\n')
			if _, err := bw.Write(buf); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return n, err
}

// TailOptions say what Tail prints.
type TailOptions struct {
	Lines    uint64        // how many of the newest entries to print first
	Follow   bool          // then keep printing new ones until ctx ends
	Interval time.Duration // how often to look for new entries while following
}

// Tail writes src's newest opts.Lines entries to w, one record per line,
// then, with opts.Follow, every new entry until ctx ends (a clean end
// returns nil).
func Tail(ctx context.Context, src audit.Source, f Formatter, w io.Writer, opts TailOptions) error {
	head, err := src.Head(ctx)
	if err != nil {
		return err
	}
	next := uint64(1)
	if head.Seq > opts.Lines {
		next = head.Seq - opts.Lines + 1
	}
	var buf []byte
	for {
		if head.Seq >= next {
			err := audit.Scan(ctx, src, next, head.Seq, 0, func(page []audit.Entry) error {
				for i := range page {
					buf = append(f.Append(buf[:0], &page[i]), '\n')
					_, _ = w.Write(buf) // a closed pipe ends the reader, not the tail
					next = page[i].Seq + 1
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		if !opts.Follow {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(opts.Interval):
		}
		if head, err = src.Head(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}
