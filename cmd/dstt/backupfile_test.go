package main

import (
	"errors"
	"testing"

	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"

	"github.com/dstt/dstt/abci/engine"
)

// FuzzDecodeBackup: any input decodes or is refused as a snapshot
// refusal; it never panics.
func FuzzDecodeBackup(f *testing.F) {
	f.Add([]byte("dstt-backup/v2\n\x00\x00\x00\x00"))
	f.Add([]byte("dstt-backup/v9\n"))
	f.Add([]byte("dstt-snapshot/v1\n\x00\x00\x00\x00\x00"))
	f.Add([]byte("dstt-backup/v2\n\x05hello\x03abc\x20"))
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := decodeBackup(in); err != nil && !errors.Is(err, engine.ErrSnapshot) {
			t.Fatalf("%q: %v, not a snapshot refusal", in, err)
		}
	})
}

func TestBackupExporter(t *testing.T) {
	self, other := ed25519.GenPrivKey().PubKey(), ed25519.GenPrivKey().PubKey()
	otherID := string(p2p.PubKeyToID(other))
	for _, c := range []struct {
		name     string
		exporter any
		flag     string
		ok       bool
	}{
		{"this node", self, "", true},
		{"another node, not named", other, "", false},
		{"another node, named", other, otherID, true},
		{"this node, another named", self, otherID, false},
		{"a bare snapshot", nil, "", true},
	} {
		f := &backupFile{}
		if c.exporter != nil {
			f.exporter = c.exporter.(ed25519.PubKey)
		}
		err := f.checkExporter(self, c.flag)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, engine.ErrSnapshot)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
