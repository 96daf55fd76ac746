package main

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// A signer init that fails part-way takes back the files it created: a
// retry then starts from nothing, and no half-made state is mistaken for a
// signer's history.
func TestInitSignerFilesFailsClean(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "signer")
	if err := os.MkdirAll(filepath.Join(dir, signerIdentityFile), 0o700); err != nil { // the identity cannot be written
		t.Fatal(err)
	}
	if _, err := initSignerFiles(dir, io.Discard); err == nil {
		t.Fatal("init succeeded without an identity")
	}
	if _, err := os.Stat(filepath.Join(dir, signerStateFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the sign state was left behind: %v", err)
	}

	dir = filepath.Join(t.TempDir(), "signer")
	made, err := initSignerFiles(dir, io.Discard)
	if err != nil || made.identity == nil {
		t.Fatalf("init: %v", err)
	}
	for _, f := range []string{signerStateFile, signerIdentityFile} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	// Again: both kept, nothing replaced.
	again, err := initSignerFiles(dir, io.Discard)
	if err != nil || !again.identity.Equals(made.identity) {
		t.Fatalf("second init: %v", err)
	}
}
