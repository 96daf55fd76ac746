package storage

import "fmt"

// validate checks b against the store's last commit before anything is
// written. committed reports whether any batch has been committed yet; last
// is the height of the newest one. It returns the first problem found,
// wrapping ErrHeightOrder or ErrBadWrite.
func (b *Batch) validate(last uint64, committed bool) error {
	return b.check(last, committed, false)
}

// validateRestore checks a batch for Restore: its writes may have any
// version at or below its height.
func (b *Batch) validateRestore() error { return b.check(0, false, true) }

func (b *Batch) check(last uint64, committed, restore bool) error {
	if committed && b.Height <= last {
		return fmt.Errorf("%w: batch height %d, last committed height %d", ErrHeightOrder, b.Height, last)
	}
	var size uint64
	for i := range b.Writes {
		w := &b.Writes[i]
		// An upper bound on the write's encoded size in a pebble batch: the
		// escaped key, version, value flag and record header.
		size += uint64(2*len(w.Key)) + uint64(len(w.Value)) + dataOverhead + 1 + 16
		if len(w.Key) == 0 {
			return fmt.Errorf("%w: write %d at height %d has an empty key", ErrBadWrite, i, b.Height)
		}
		if w.Version.Height != b.Height && (!restore || w.Version.Height > b.Height) {
			return fmt.Errorf("%w: write %d (key %s) has version height %d, batch height %d",
				ErrBadWrite, i, printableKey(w.Key), w.Version.Height, b.Height)
		}
	}
	if size > maxBatchBytes {
		return fmt.Errorf("%w: batch at height %d encodes to about %d bytes, over the %d-byte limit",
			ErrBadWrite, b.Height, size, maxBatchBytes)
	}
	return nil
}

// maxBatchBytes bounds the encoded size of one batch, well below pebble's
// 4 GiB batch limit (pebble panics past it). Every Store enforces it so that
// all implementations accept exactly the same batches.
const maxBatchBytes = 1 << 31

// maxPrintedKey bounds how much of a key an error message quotes.
const maxPrintedKey = 64

// printableKey quotes key for an error message, truncating long keys.
func printableKey(key []byte) string {
	if len(key) > maxPrintedKey {
		return fmt.Sprintf("%q... (%d bytes)", key[:maxPrintedKey], len(key))
	}
	return fmt.Sprintf("%q", key)
}
