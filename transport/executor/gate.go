package executor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/dstt/dstt/types"
)

// StepGate is a debugger's single-stepping: with Config.Gate set to its
// Wait, the executor runs a step of a gtx only after Release(gid) was
// called for it, once per step. Releases are files in one directory (one
// per gid, holding nothing), so another process (`dstt gtx step ID`)
// releases the steps of an executor running in `dstt start`.
type StepGate struct {
	Dir string
	// Poll is how often a waiting step looks for its release (default 100 ms).
	Poll time.Duration
}

func (g StepGate) path(gid string) (string, error) {
	if !types.ValidGtxName(gid, types.MaxGtxIDBytes) {
		return "", fmt.Errorf("executor: %q is not a gtx id", gid)
	}
	return filepath.Join(g.Dir, gid), nil
}

// Release lets the next waiting step of gid run (one step; a release
// with no step waiting is kept for the next one).
func (g StepGate) Release(gid string) error {
	p, err := g.path(gid)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(g.Dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(p, nil, 0o600)
}

// Wait blocks until a release for s's gtx is there and takes it (only one
// waiter can), or ctx ends.
func (g StepGate) Wait(ctx context.Context, s Step) error {
	p, err := g.path(s.GID)
	if err != nil {
		return err
	}
	poll := g.Poll
	if poll <= 0 {
		poll = 100 * time.Millisecond
	}
	for {
		err := os.Remove(p)
		if err == nil {
			return nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if !sleep(ctx, poll) {
			return ctx.Err()
		}
	}
}
