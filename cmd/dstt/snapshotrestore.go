package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	cfg "github.com/cometbft/cometbft/config"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	"github.com/cometbft/cometbft/types"
	"github.com/spf13/cobra"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/consensus/chainstate"
	"github.com/dstt/dstt/storage"
)

// restoreFlags: what a backup is checked against besides the genesis.
type restoreFlags struct {
	trustHeight int64
	trustHash   string
	exporter    string
}

func restoreCmd(g *globals, use, short string, write bool) *cobra.Command {
	var rf restoreFlags
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if write {
				return g.snapshotImport(args[0], rf)
			}
			_, err := g.checkBackup(args[0], rf, "verified")
			return err
		}}
	cmd.Flags().Int64Var(&rf.trustHeight, "trust-height", 0, "the height of a header you trust (the snapshot height or the one after it), when the validator set has changed since genesis")
	cmd.Flags().StringVar(&rf.trustHash, "trust-hash", "", "the hash of that header, from a node you trust (its CometBFT RPC: /commit?height=HEIGHT)")
	cmd.Flags().StringVar(&rf.exporter, "exporter", "", "the node ID that exported the backup, when it is not this node")
	return cmd
}

// snapshotExport writes the backup file of height: the node's snapshot
// file of it, and CometBFT's chain at it, read from the stores of a stopped
// node or else over the running node's RPC.
func (g *globals) snapshotExport(height, file string) error {
	h, err := consensus.OpenHome(g.home)
	if err != nil {
		return err
	}
	if _, err := strconv.ParseUint(height, 10, 64); err != nil {
		return fmt.Errorf("height %q: want a number (dstt snapshot list)", height)
	}
	snap, err := os.ReadFile(filepath.Join(snapshotsDir(h), height+".snap"))
	if err != nil {
		return fmt.Errorf("no snapshot of height %s in this home (dstt snapshot create, list): %w", height, err)
	}
	s, err := engine.ReadSnapshotHeader(bytes.NewReader(snap))
	if err != nil {
		return err
	}
	anchor, err := g.readAnchor(h, int64(s.Height))
	if err != nil {
		return err
	}
	nodeKey, err := p2p.LoadNodeKey(h.NodeKeyFile())
	if err != nil {
		return err
	}
	b, err := encodeBackup(snap, anchor, nodeKey)
	if err != nil {
		return err
	}
	// What import will check, checked now (trusting this node's own
	// header): a backup that would be refused is not written.
	gen, err := h.Genesis()
	if err != nil {
		return err
	}
	f, err := decodeBackup(b)
	if err == nil {
		err = f.verify(gen, chainstate.Trust{Height: anchor.Current.Height, Hash: anchor.Current.Hash()})
	}
	if err != nil {
		return err
	}
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return err
	}
	return g.printSnapshot(f, len(b), file, "exported")
}

// readAnchor reads CometBFT's chain at height from the home's stores, or,
// when they are held open by the running node, over its RPC.
func (g *globals) readAnchor(h *consensus.Home, height int64) (*chainstate.Anchor, error) {
	c, err := h.Config()
	if err != nil {
		return nil, err
	}
	anchor, storeErr := chainstate.Read(c, height)
	if storeErr == nil {
		return anchor, nil
	}
	rpc, err := rpchttp.New(g.rpc, "/websocket")
	if err != nil {
		return nil, errors.Join(storeErr, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	anchor, err = chainstate.ReadRPC(ctx, rpc, height)
	if err != nil {
		return nil, fmt.Errorf("CometBFT's chain at %d: from the stores: %w; from the node's RPC at %s: %w", height, storeErr, g.rpc, err)
	}
	return anchor, nil
}

// restorePlan is a checked backup and what importing it writes.
type restorePlan struct {
	f    *backupFile
	size int
	// bootstrap: the home's CometBFT stores are empty; the backup's chain
	// state goes in.
	bootstrap bool
	home      *consensus.Home
	config    *cfg.Config
	genesis   *types.GenesisDoc
}

// checkBackup reads file and checks it for this home, writing nothing.
func (g *globals) checkBackup(file string, rf restoreFlags, verb string) (*restorePlan, error) {
	h, err := consensus.OpenHomeLostData(g.home)
	if err != nil {
		return nil, err
	}
	c, err := h.Config()
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	p, err := decodeBackupChecked(b, h, c, rf)
	if err != nil {
		return nil, err
	}
	if verb != "" {
		return p, g.printSnapshot(p.f, len(b), file, verb)
	}
	return p, nil
}

// decodeBackupChecked decodes b and verifies it: the exporter, then the
// chain state against the trusted header (flags, else this home's block
// store, else the genesis validators), then the app snapshot against the
// app hash the validators signed, then the exporter's signature. A bare
// app snapshot is checked against this home's block store.
func decodeBackupChecked(b []byte, h *consensus.Home, c *cfg.Config, rf restoreFlags) (*restorePlan, error) {
	f, err := decodeBackup(b)
	if err != nil {
		return nil, err
	}
	self, err := h.NodePubKey()
	if err != nil {
		return nil, err
	}
	if err := f.checkExporter(self, rf.exporter); err != nil {
		return nil, err
	}
	gen, err := h.Genesis()
	if err != nil {
		return nil, err
	}
	empty, err := chainstate.IsEmpty(c)
	if err != nil {
		return nil, err
	}
	p := &restorePlan{f: f, size: len(b), bootstrap: empty, home: h, config: c, genesis: gen}
	if f.anchor == nil {
		if empty {
			return nil, fmt.Errorf("%w: a bare app snapshot (data/snapshots/HEIGHT.snap) restores only a home that still holds its CometBFT data; restore from a backup file of `dstt snapshot export`", engine.ErrSnapshot)
		}
		return p, verifySigned(h, f)
	}
	trust, err := backupTrust(c, rf, empty, int64(f.header.Height))
	if err != nil {
		return nil, err
	}
	return p, f.verify(gen, trust)
}

// verify checks a backup with chain state against trust: the chain state,
// the app snapshot against the app hash it carries, the signature.
func (f *backupFile) verify(gen *types.GenesisDoc, trust chainstate.Trust) error {
	if H := int64(f.header.Height); f.anchor.Height() != H {
		return fmt.Errorf("%w: the chain state is of height %d, the app snapshot of %d", engine.ErrSnapshot, f.anchor.Height(), H)
	}
	appHash, err := f.anchor.Verify(gen, trust)
	if err != nil {
		return refusedChain(err)
	}
	if err := f.verifySnapshot(appHash); err != nil {
		return err
	}
	// Last, so that a changed byte the checks above catch is reported
	// with their reason; this one covers the rest (what no validator signs).
	return f.checkSignature()
}

// backupTrust is the header the chain state is checked against: the
// operator's (flags), else this home's own header of H+1 if it has it,
// else none (the genesis validators).
func backupTrust(c *cfg.Config, rf restoreFlags, empty bool, H int64) (chainstate.Trust, error) {
	if rf.trustHeight != 0 || rf.trustHash != "" {
		hash, err := hex.DecodeString(rf.trustHash)
		if err != nil || len(hash) != 32 || rf.trustHeight <= 0 {
			return chainstate.Trust{}, usageErr("--trust-height and --trust-hash go together: a height and a 64-hex-digit header hash")
		}
		return chainstate.Trust{Height: rf.trustHeight, Hash: hash}, nil
	}
	if empty {
		return chainstate.Trust{}, nil
	}
	hash, err := chainstate.HeaderHash(c, H+1)
	if errors.Is(err, chainstate.ErrNoBlock) {
		return chainstate.Trust{}, nil // a restored home: not yet past H+1
	}
	if err != nil {
		return chainstate.Trust{}, fmt.Errorf("%w: %v", engine.ErrSnapshot, err)
	}
	return chainstate.Trust{Height: H + 1, Hash: hash}, nil
}

func (g *globals) snapshotImport(file string, rf restoreFlags) error {
	p, err := g.checkBackup(file, rf, "")
	if err != nil {
		return err
	}
	h := p.home
	store, err := storage.NewPebbleStore(h.AppDataDir(), storage.DefaultPebbleOptions())
	if err != nil {
		return fmt.Errorf("%w (is the node running? stop it first)", err)
	}
	e, err := engine.NewEngine(store, engine.PlainVerifier{})
	if err == nil {
		err = e.RestoreVerified(p.f.source(), p.f.info)
	}
	if errors.Is(err, storage.ErrNotEmpty) {
		err = fmt.Errorf("%w: %s holds app state; import only rebuilds an empty one (move it away first)", err, h.AppDataDir())
	}
	if err = errors.Join(err, store.Close()); err != nil {
		return err
	}
	if p.bootstrap {
		if err := chainstate.Bootstrap(p.config, p.genesis, p.f.anchor); err != nil {
			// All or nothing: the app state just written goes too.
			return errors.Join(err, os.RemoveAll(h.AppDataDir()))
		}
	}
	if err := g.keepSignerState(p); err != nil {
		return err
	}
	return g.printSnapshot(p.f, p.size, file, "imported")
}

// keepSignerState guards against signing twice. An existing
// priv_validator_state.json is never written (never lowered). A missing
// one is created at height H+2, round 0, step 0: the validator signs
// nothing at H+1 or below again (it may have signed those heights before
// the loss: the chain had reached H+1 when the backup was taken).
func (g *globals) keepSignerState(p *restorePlan) error {
	file := p.home.PrivValidatorStateFile()
	raw, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		floor := privval.FilePVLastSignState{Height: int64(p.f.header.Height) + 2}
		b, err := cmtjson.Marshal(&floor)
		if err != nil {
			return err
		}
		w, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		if err = errors.Join(err, w.Sync(), w.Close()); err != nil {
			return err
		}
		fmt.Fprintf(g.stderr, "note: wrote %s at height %d: this validator signs nothing at height %d or below again\n", file, floor.Height, floor.Height-1)
		return nil
	}
	if err != nil {
		return err
	}
	var st privval.FilePVLastSignState
	if err := cmtjson.Unmarshal(raw, &st); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if next := int64(p.f.header.Height) + 1; st.Height < next && p.f.anchor != nil && isValidator(p) {
		fmt.Fprintf(g.stderr, "warning: %s (kept as it was) records height %d, below %d, which this validator may have signed before: it can sign heights above %d again (a double sign) unless its peers bring it past them first; see docs/OPERATIONS.md\n", file, st.Height, next, st.Height)
	}
	return nil
}

// isValidator: the home's validator key is in the sets of H+1 or H+2.
func isValidator(p *restorePlan) bool {
	pub, err := p.home.ValidatorPubKey()
	if err != nil {
		return false
	}
	return p.f.anchor.Validators.HasAddress(pub.Address()) || p.f.anchor.NextValidators.HasAddress(pub.Address())
}
