package keyring

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/dstt/dstt/security"
)

// Rotation is the local side of rotating the key Name to a successor,
// whatever the backend: Old signs the RotateKey tx, Next signs its proof of
// possession, and once the tx is committed Finish makes the successor the
// key Name and says where the old key is kept. A Rotation is not safe for
// concurrent use.
type Rotation struct {
	Name string
	// Old and Next are nil for a rotation that is only being finished.
	Old, Next security.Signer
	NewPubKey []byte
	// Resumed: an earlier attempt's successor is reused.
	Resumed bool
	// Finish completes the local side. It is idempotent: after a crash,
	// run it again (BeginRotation with finishOnly).
	Finish func(ctx context.Context) (kept string, err error)
}

// NextName is the name a pending successor of the key name has in a
// keyring that rotates by renaming.
func NextName(name string) string { return name + ".next" }

// BeginRotation prepares rotating the key name in a keyring that can
// rename (file, test, memory): the successor is NextName(name) (created
// unless an earlier attempt left one: Resumed). Finish renames the old key
// to the first free name.old-N and the successor to name. With finishOnly
// it loads nothing that needs a passphrase and only prepares Finish; it
// also completes a Finish that stopped between its two renames.
func BeginRotation(kr Keyring, name string, finishOnly bool) (*Rotation, error) {
	next := NextName(name)
	if err := ValidateName(next); err != nil {
		return nil, fmt.Errorf("keyring: key name %q is too long to rotate: %w", name, err)
	}
	cur, err := kr.Show(name)
	if errors.Is(err, ErrKeyNotFound) && finishOnly {
		return resumeFinish(kr, name)
	}
	if err != nil {
		return nil, err
	}
	nk, err := kr.Show(next)
	r := &Rotation{Name: name, Resumed: err == nil}
	switch {
	case errors.Is(err, ErrKeyNotFound) && finishOnly:
		return nil, fmt.Errorf("keyring: no rotation of %q is pending (no key %q)", name, next)
	case errors.Is(err, ErrKeyNotFound):
		if nk, err = kr.Add(next); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, err
	}
	r.NewPubKey = nk.PubKey
	if !finishOnly {
		if r.Old, err = kr.Signer(name); err != nil {
			return nil, err
		}
		if r.Next, err = kr.Signer(next); err != nil {
			return nil, err
		}
	}
	r.Finish = func(context.Context) (string, error) {
		kept, err := keepName(kr, name, cur.PubKey)
		if err != nil {
			return "", err
		}
		if err := kr.Rename(name, kept); err != nil {
			return "", err
		}
		return kept, kr.Rename(next, name)
	}
	return r, nil
}

// resumeFinish is BeginRotation(finishOnly) after a Finish that renamed
// the old key away but not the successor into place.
func resumeFinish(kr Keyring, name string) (*Rotation, error) {
	nk, err := kr.Show(NextName(name))
	if err != nil {
		return nil, fmt.Errorf("keyring: no key %q and no rotation of it pending: %w", name, err)
	}
	kept := ""
	for n := 1; ; n++ {
		if _, err := kr.Show(oldName(name, n)); err != nil {
			break
		}
		kept = oldName(name, n)
	}
	return &Rotation{Name: name, NewPubKey: nk.PubKey, Resumed: true, Finish: func(context.Context) (string, error) {
		return kept, kr.Rename(NextName(name), name)
	}}, nil
}

func oldName(name string, n int) string { return fmt.Sprintf("%s.old-%d", name, n) }

// keepName is the first name.old-N that is free or already holds pub (an
// interrupted Finish).
func keepName(kr Keyring, name string, pub []byte) (string, error) {
	for n := 1; ; n++ {
		cand := oldName(name, n)
		if err := ValidateName(cand); err != nil {
			return "", err
		}
		info, err := kr.Show(cand)
		switch {
		case errors.Is(err, ErrKeyNotFound):
			return cand, nil
		case err != nil:
			return "", err
		case bytes.Equal(info.PubKey, pub):
			return cand, nil
		}
	}
}
