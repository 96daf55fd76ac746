package keyring

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"
)

// TestRename: every backend moves a key under a free name, refuses a taken
// one or a missing source, and completes an interrupted rename.
func TestRename(t *testing.T) {
	for backend, open := range keyringBackends() {
		t.Run(backend, func(t *testing.T) {
			kr, _ := open(t)
			a, err := kr.Add("a")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := kr.Add("b"); err != nil {
				t.Fatal(err)
			}
			if err := kr.Rename("a", "b"); !errors.Is(err, ErrKeyExists) {
				t.Fatalf("rename onto a taken name: %v", err)
			}
			if err := kr.Rename("nope", "c"); !errors.Is(err, ErrKeyNotFound) {
				t.Fatalf("rename of a missing key: %v", err)
			}
			if err := kr.Rename("a", "bad name"); !errors.Is(err, ErrBadName) {
				t.Fatalf("rename to a bad name: %v", err)
			}
			if err := kr.Rename("a", "c"); err != nil {
				t.Fatal(err)
			}
			if _, err := kr.Show("a"); !errors.Is(err, ErrKeyNotFound) {
				t.Fatalf("the old name is still there: %v", err)
			}
			c, err := kr.Show("c")
			if err != nil || !bytes.Equal(c.PubKey, a.PubKey) {
				t.Fatalf("renamed key: %+v %v", c, err)
			}
			if s, err := kr.Signer("c"); err != nil || !bytes.Equal(s.PubKey(), a.PubKey) {
				t.Fatalf("signer of the renamed key: %v", err)
			}
		})
	}
	// A crash between the file keyring's link and remove leaves both names
	// on the same key: a second Rename finishes the job.
	dir := t.TempDir()
	kr, err := Open(BackendTest, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Add("x"); err != nil {
		t.Fatal(err)
	}
	dk := kr.(*dirKeyring)
	if err := os.Link(dk.path("x"), dk.path("y")); err != nil {
		t.Fatal(err)
	}
	if err := kr.Rename("x", "y"); err != nil {
		t.Fatalf("completing an interrupted rename: %v", err)
	}
	if _, err := kr.Show("x"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("x after completing the rename: %v", err)
	}
}

// TestBeginRotation: the successor is NAME.next until Finish, which keeps
// the old key as NAME.old-1 and makes the successor NAME; a second rotation
// keeps the next old key as NAME.old-2; an interrupted Finish resumes with
// finishOnly.
func TestBeginRotation(t *testing.T) {
	ctx := context.Background()
	kr, _ := keyringBackends()[BackendTest](t)
	first, err := kr.Add("k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := BeginRotation(kr, "k", true); err == nil {
		t.Fatal("finishOnly without a pending successor")
	}
	r, err := BeginRotation(kr, "k", false)
	if err != nil || r.Resumed || !bytes.Equal(r.Old.PubKey(), first.PubKey) || !bytes.Equal(r.Next.PubKey(), r.NewPubKey) {
		t.Fatalf("begin: %+v %v", r, err)
	}
	again, err := BeginRotation(kr, "k", false)
	if err != nil || !again.Resumed || !bytes.Equal(again.NewPubKey, r.NewPubKey) {
		t.Fatalf("a second begin must resume with the same successor: %+v %v", again, err)
	}
	kept, err := r.Finish(ctx)
	if err != nil || kept != "k.old-1" {
		t.Fatalf("finish: %q %v", kept, err)
	}
	assertKey := func(name string, pub []byte) {
		t.Helper()
		info, err := kr.Show(name)
		if err != nil || !bytes.Equal(info.PubKey, pub) {
			t.Fatalf("%s: %+v %v", name, info, err)
		}
	}
	assertKey("k", r.NewPubKey)
	assertKey("k.old-1", first.PubKey)
	if _, err := kr.Show(NextName("k")); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("successor left behind: %v", err)
	}

	// Second rotation, interrupted between Finish's two renames.
	r2, err := BeginRotation(kr, "k", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := kr.Rename("k", "k.old-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := BeginRotation(kr, "k", false); err == nil {
		t.Fatal("a full begin with the key renamed away")
	}
	fin, err := BeginRotation(kr, "k", true)
	if err != nil {
		t.Fatal(err)
	}
	if kept, err := fin.Finish(ctx); err != nil || kept != "k.old-2" {
		t.Fatalf("resumed finish: %q %v", kept, err)
	}
	assertKey("k", r2.NewPubKey)
	assertKey("k.old-2", r.NewPubKey)
}
