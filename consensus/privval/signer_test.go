package privval_test

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/consensus/privval"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/vault"
	"github.com/dstt/dstt/security/vault/vaulttest"
)

const testChain = "pv-chain"

func blockID(b byte) cmtproto.BlockID {
	h := bytes.Repeat([]byte{b}, 32)
	return cmtproto.BlockID{Hash: h, PartSetHeader: cmtproto.PartSetHeader{Total: 1, Hash: h}}
}

func vote(typ cmtproto.SignedMsgType, h int64, r int32, id cmtproto.BlockID, ts time.Time) *cmtproto.Vote {
	return &cmtproto.Vote{Type: typ, Height: h, Round: r, BlockID: id, Timestamp: ts, ValidatorAddress: make([]byte, 20)}
}

func newPV(t *testing.T, s security.Signer, state string) *privval.ValidatorSigner {
	t.Helper()
	pv, err := privval.NewValidatorSigner(s, privval.Config{ChainID: testChain, StateFile: state})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pv.Close() })
	return pv
}

func TestValidatorSignerDoubleSignGuard(t *testing.T) {
	local, _ := security.GenerateKey()
	state := filepath.Join(t.TempDir(), "signer", "state.json")
	if _, err := privval.NewValidatorSigner(local, privval.Config{ChainID: testChain, StateFile: state}); !errors.Is(err, privval.ErrNoSignState) {
		t.Fatalf("missing state: %v", err)
	}
	if created, err := privval.InitSignState(state); err != nil || !created {
		t.Fatalf("init: %v %v", created, err)
	}
	if created, err := privval.InitSignState(state); err != nil || created {
		t.Fatalf("init twice must keep the file: %v %v", created, err)
	}
	pv := newPV(t, local, state)
	if _, err := privval.NewValidatorSigner(local, privval.Config{ChainID: testChain, StateFile: state}); !errors.Is(err, privval.ErrSignStateLocked) {
		t.Fatalf("second signer on the same state: %v", err)
	}
	pub, _ := pv.GetPubKey()
	t0 := time.Unix(1700000000, 0).UTC()

	// Proposal, prevote, precommit at height 5.
	prop := &cmtproto.Proposal{Type: cmtproto.ProposalType, Height: 5, Round: 0, PolRound: -1, BlockID: blockID(1), Timestamp: t0}
	if err := pv.SignProposal(testChain, prop); err != nil {
		t.Fatal(err)
	}
	if !pub.VerifySignature(cmttypes.ProposalSignBytes(testChain, prop), prop.Signature) {
		t.Fatal("proposal signature")
	}
	pre := vote(cmtproto.PrevoteType, 5, 0, blockID(1), t0)
	if err := pv.SignVote(testChain, pre); err != nil {
		t.Fatal(err)
	}
	if !pub.VerifySignature(cmttypes.VoteSignBytes(testChain, pre), pre.Signature) || pre.ExtensionSignature != nil {
		t.Fatal("prevote signature")
	}
	pc := vote(cmtproto.PrecommitType, 5, 0, blockID(1), t0)
	if err := pv.SignVote(testChain, pc); err != nil {
		t.Fatal(err)
	}
	if !pub.VerifySignature(cmttypes.VoteExtensionSignBytes(testChain, pc), pc.ExtensionSignature) {
		t.Fatal("a non-nil precommit carries an extension signature")
	}

	// Same HRS, same bytes: the same signature. Only the time differs: the
	// stored signature with the stored time.
	again := vote(cmtproto.PrecommitType, 5, 0, blockID(1), t0)
	if err := pv.SignVote(testChain, again); err != nil || !bytes.Equal(again.Signature, pc.Signature) {
		t.Fatalf("re-sign same vote: %v", err)
	}
	later := vote(cmtproto.PrecommitType, 5, 0, blockID(1), t0.Add(time.Second))
	if err := pv.SignVote(testChain, later); err != nil || !bytes.Equal(later.Signature, pc.Signature) || !later.Timestamp.Equal(t0) {
		t.Fatalf("re-sign with a new time: %v", err)
	}
	// Same HRS, another block: refused.
	conflict := vote(cmtproto.PrecommitType, 5, 0, blockID(2), t0)
	if err := pv.SignVote(testChain, conflict); !errors.Is(err, privval.ErrDoubleSign) || conflict.Signature != nil {
		t.Fatalf("conflicting precommit: %v", err)
	}
	// Regressions: refused.
	for _, v := range []*cmtproto.Vote{vote(cmtproto.PrevoteType, 5, 0, blockID(1), t0), vote(cmtproto.PrecommitType, 4, 3, blockID(1), t0)} {
		if err := pv.SignVote(testChain, v); !errors.Is(err, privval.ErrDoubleSign) {
			t.Fatalf("regression %v: %v", v.Type, err)
		}
	}
	if err := pv.SignProposal(testChain, &cmtproto.Proposal{Type: cmtproto.ProposalType, Height: 5, Round: 0, PolRound: -1, BlockID: blockID(1), Timestamp: t0}); !errors.Is(err, privval.ErrDoubleSign) {
		t.Fatalf("proposal after precommit at the same round: %v", err)
	}
	// Another chain: refused.
	if err := pv.SignVote("other", vote(cmtproto.PrevoteType, 6, 0, blockID(1), t0)); err == nil {
		t.Fatal("signed for another chain")
	}

	// "Restart": the guard survives in the file.
	pv.Close()
	pv2 := newPV(t, local, state)
	if h, r, s := pv2.State(); h != 5 || r != 0 || s != 3 {
		t.Fatalf("state after restart: %d/%d/%d", h, r, s)
	}
	conflict = vote(cmtproto.PrecommitType, 5, 0, blockID(2), t0)
	if err := pv2.SignVote(testChain, conflict); !errors.Is(err, privval.ErrDoubleSign) {
		t.Fatalf("conflicting precommit after restart: %v", err)
	}
	same := vote(cmtproto.PrecommitType, 5, 0, blockID(1), t0)
	if err := pv2.SignVote(testChain, same); err != nil || !bytes.Equal(same.Signature, pc.Signature) {
		t.Fatalf("same precommit after restart: %v", err)
	}
	next := vote(cmtproto.PrevoteType, 6, 0, cmtproto.BlockID{}, t0)
	if err := pv2.SignVote(testChain, next); err != nil {
		t.Fatal(err)
	}
	nilPC := vote(cmtproto.PrecommitType, 6, 0, cmtproto.BlockID{}, t0)
	nilPC.Extension = []byte("x")
	if err := pv2.SignVote(testChain, nilPC); err == nil {
		t.Fatal("an extension on a nil precommit was signed")
	}
	st, err := privval.LoadSignState(state)
	if err != nil || st.Height != 6 || st.Step != 2 {
		t.Fatalf("state file: %+v %v", st, err)
	}

	// A damaged state file is refused, not reset.
	pv2.Close()
	os.WriteFile(state, []byte(`{"height":"7","round":0,"step":9}`), 0o600)
	if _, err := privval.NewValidatorSigner(local, privval.Config{ChainID: testChain, StateFile: state}); !errors.Is(err, privval.ErrBadSignState) {
		t.Fatalf("damaged state: %v", err)
	}
}

// TestValidatorSignerVault: the same guard over a Vault transit key; vote
// and extension go out in one batch request; a journal gets every new
// signature.
func TestValidatorSignerVault(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	ctx := t.Context()
	v := srv.Vault("")
	if _, err := v.CreateKey(ctx, "validator", vault.TransitKeyEd25519); err != nil {
		t.Fatal(err)
	}
	ts, err := v.Signer(ctx, "validator", 0)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	state := filepath.Join(dir, "state.json")
	privval.InitSignState(state)
	jf, err := os.OpenFile(filepath.Join(dir, "journal"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer jf.Close()
	pv, err := privval.NewValidatorSigner(ts, privval.Config{ChainID: testChain, StateFile: state, Journal: jf})
	if err != nil {
		t.Fatal(err)
	}
	defer pv.Close()
	pub, _ := pv.GetPubKey()
	if !bytes.Equal(pub.Bytes(), ts.PubKey()) {
		t.Fatal("pub key")
	}
	t0 := time.Now().UTC()
	for h := int64(1); h <= 3; h++ {
		pc := vote(cmtproto.PrecommitType, h, 0, blockID(byte(h)), t0)
		if err := pv.SignVote(testChain, pc); err != nil {
			t.Fatal(err)
		}
		if !pub.VerifySignature(cmttypes.VoteSignBytes(testChain, pc), pc.Signature) ||
			!pub.VerifySignature(cmttypes.VoteExtensionSignBytes(testChain, pc), pc.ExtensionSignature) {
			t.Fatal("vault-signed precommit does not verify")
		}
	}
	// Vault sealed: a clear error, nothing recorded; unsealed: signs again.
	srv.Seal()
	pc := vote(cmtproto.PrecommitType, 4, 0, blockID(4), t0)
	if err := pv.SignVote(testChain, pc); !errors.Is(err, vault.ErrSealed) || !errors.Is(err, privval.ErrVaultUnavailable) {
		t.Fatalf("sealed: %v", err)
	}
	if h, _, _ := pv.State(); h != 3 {
		t.Fatalf("state moved to %d without a signature", h)
	}
	srv.Unseal()
	if err := pv.SignVote(testChain, pc); err != nil {
		t.Fatal(err)
	}
	// With RetryFor, a request waits out a short seal instead of failing.
	pv.Close()
	pv, err = privval.NewValidatorSigner(ts, privval.Config{ChainID: testChain, StateFile: state, Journal: jf, RetryFor: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv.Seal()
	done := make(chan error, 1)
	pc5 := vote(cmtproto.PrecommitType, 5, 0, blockID(5), t0)
	go func() { done <- pv.SignVote(testChain, pc5) }()
	time.Sleep(1500 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("returned while Vault was sealed: %v", err)
	default:
	}
	srv.Unseal()
	if err := <-done; err != nil || !pub.VerifySignature(cmttypes.VoteSignBytes(testChain, pc5), pc5.Signature) {
		t.Fatalf("after the seal ended: %v", err)
	}
	f, _ := os.Open(filepath.Join(dir, "journal"))
	defer f.Close()
	n := 0
	for sc := bufio.NewScanner(f); sc.Scan(); n++ {
	}
	if n != 5 {
		t.Fatalf("journal has %d lines, want 5", n)
	}
}
