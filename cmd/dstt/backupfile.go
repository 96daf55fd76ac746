package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/consensus/chainstate"
)

// The backup file `dstt snapshot export` writes:
//
//	"dstt-backup/v2\n"
//	field: the app snapshot (engine.Snapshot.Encode, "dstt-snapshot/v1")
//	field: CometBFT's chain at the snapshot height (chainstate.Anchor.Encode)
//	field: the exporting node's ed25519 node key (32 bytes)
//	field: its signature over every byte before this field
//
// where a field is a uvarint length and the bytes. The app snapshot is
// checked against the app hash of the signed header of H+1, the chain
// state against the validators' commits; the node's signature covers what
// no validator signs (the validator sets' proposer priorities, the
// consensus params beyond the hashed block limits) and binds the file as a
// whole. A file that starts with "dstt-snapshot/v1\n" is a
// bare app snapshot (data/snapshots/HEIGHT.snap): import takes it only
// into a home that still holds its CometBFT data.
const (
	backupMagicPrefix = "dstt-backup/v"
	backupVersion     = "2"
	bareSnapshotMagic = "dstt-snapshot/v1\n"
)

// backupFile is a decoded backup: anchor and exporter are nil for a bare
// app snapshot. The app snapshot's entries are not decoded into memory:
// verify and import stream them from snap.
type backupFile struct {
	// snap is the app snapshot's bytes (a part of the file), header its
	// header; info is what verify found (with the audit head).
	snap     []byte
	header   engine.SnapshotHeader
	info     engine.SnapshotInfo
	anchor   *chainstate.Anchor
	exporter crypto.PubKey
	// signed is the file up to the signature, sig the signature.
	signed, sig []byte
}

// encodeBackup builds and signs a backup file with the node key.
func encodeBackup(snap []byte, anchor *chainstate.Anchor, nodeKey *p2p.NodeKey) ([]byte, error) {
	a, err := anchor.Encode()
	if err != nil {
		return nil, err
	}
	b := []byte(backupMagicPrefix + backupVersion + "\n")
	b = appendField(b, snap)
	b = appendField(b, a)
	b = appendField(b, nodeKey.PubKey().Bytes())
	sig, err := nodeKey.PrivKey.Sign(b)
	if err != nil {
		return nil, err
	}
	return appendField(b, sig), nil
}

func appendField(b, v []byte) []byte { return append(binary.AppendUvarint(b, uint64(len(v))), v...) }

// decodeBackup decodes a backup file or a bare app snapshot (checking
// nothing yet but the form). Anything wrong is engine.ErrSnapshot with
// the reason.
func decodeBackup(b []byte) (*backupFile, error) {
	if bytes.HasPrefix(b, []byte(bareSnapshotMagic)) {
		h, err := engine.ReadSnapshotHeader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return &backupFile{snap: b, header: h}, nil
	}
	rest, ok := bytes.CutPrefix(b, []byte(backupMagicPrefix))
	if !ok {
		return nil, fmt.Errorf("%w: not a dstt backup (a file of `dstt snapshot export`)", engine.ErrSnapshot)
	}
	version, rest, ok := bytes.Cut(rest, []byte("\n"))
	if !ok || len(version) > 8 || string(version) != backupVersion {
		v := string(version)
		if !ok || len(v) > 8 {
			v = "?"
		}
		return nil, fmt.Errorf("%w: backup format v%s; this dstt reads format v%s (and bare v1 snapshots): import it with the dstt release that wrote it", engine.ErrSnapshot, v, backupVersion)
	}
	var f [4][]byte
	for i := range f {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return nil, fmt.Errorf("%w: malformed backup: truncated", engine.ErrSnapshot)
		}
		f[i], rest = rest[k:k+int(n)], rest[k+int(n):]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: malformed backup: trailing bytes", engine.ErrSnapshot)
	}
	if len(f[2]) != ed25519.PubKeySize {
		return nil, fmt.Errorf("%w: malformed backup: the exporter key", engine.ErrSnapshot)
	}
	h, err := engine.ReadSnapshotHeader(bytes.NewReader(f[0]))
	if err != nil {
		return nil, err
	}
	a, err := chainstate.Decode(f[1])
	if err != nil {
		return nil, refusedChain(err)
	}
	signed := b[:len(b)-len(f[3])-len(binary.AppendUvarint(nil, uint64(len(f[3]))))]
	return &backupFile{snap: f[0], header: h, anchor: a, exporter: ed25519.PubKey(f[2]), signed: signed, sig: f[3]}, nil
}

// source is the app snapshot, for the streamed verify and restore.
func (f *backupFile) source() engine.SnapshotSource {
	return engine.SnapshotAt(bytes.NewReader(f.snap), 0, int64(len(f.snap)))
}

// verifySnapshot checks the app snapshot against appHash, the app hash
// the validators signed for its height, keeping what it found in f.info.
func (f *backupFile) verifySnapshot(appHash []byte) error {
	info, err := engine.VerifySnapshotFrom(f.source(), appHash)
	if err != nil {
		return err
	}
	f.info = info
	return nil
}

// checkSignature checks the exporting node's signature over the file.
func (f *backupFile) checkSignature() error {
	if f.exporter != nil && !f.exporter.VerifySignature(f.signed, f.sig) {
		return fmt.Errorf("%w: the exporting node's signature over the file does not verify (a byte was changed)", engine.ErrSnapshot)
	}
	return nil
}

// refusedChain turns a chainstate refusal into a snapshot refusal (exit 7).
func refusedChain(err error) error {
	if !errors.Is(err, chainstate.ErrRefused) {
		return err
	}
	return fmt.Errorf("%w: CometBFT state: %s", engine.ErrSnapshot, strings.TrimPrefix(err.Error(), chainstate.ErrRefused.Error()+": "))
}

// checkExporter: a backup is taken from the node that made it, or from
// the node the operator names (--exporter NODE_ID).
func (f *backupFile) checkExporter(self crypto.PubKey, exporterID string) error {
	if f.exporter == nil {
		return nil
	}
	id := string(p2p.PubKeyToID(f.exporter))
	switch {
	case exporterID != "" && id == exporterID:
		return nil
	case exporterID == "" && f.exporter.Equals(self):
		return nil
	case exporterID != "":
		return fmt.Errorf("%w: the backup was exported by node %s, not %s", engine.ErrSnapshot, id, exporterID)
	}
	return fmt.Errorf("%w: the backup was exported by node %s, not this node (%s); to restore another node's backup, name it: --exporter %s", engine.ErrSnapshot, id, p2p.PubKeyToID(self), id)
}
