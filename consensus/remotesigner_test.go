package consensus

import (
	"errors"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"
)

// One parser for priv_validator_laddr: what the node accepts in
// config.toml is what the signer dials.
func TestParseSignerAddress(t *testing.T) {
	const noisePeer = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
	for _, c := range []struct {
		in, scheme, addr string
		bad, badScheme   bool
	}{
		{in: "tcp://127.0.0.1:26659", scheme: SignerTCP, addr: "tcp://127.0.0.1:26659"},
		{in: "unix:///run/pv.sock", scheme: SignerUnix, addr: "/run/pv.sock"},
		{in: "noise://" + noisePeer + "@127.0.0.1:26659", scheme: SignerNoise, addr: "127.0.0.1:26659"},
		{in: "tcp://127.0.0.1", bad: true},
		{in: "tcp://127.0.0.1:0", bad: true},
		{in: "unix://", bad: true},
		{in: "noise://127.0.0.1:26659", bad: true},
		{in: "http://127.0.0.1:26659", bad: true, badScheme: true},
		{in: "127.0.0.1:26659", bad: true, badScheme: true},
	} {
		got, err := ParseSignerAddress(c.in)
		if c.bad {
			if err == nil || errors.Is(err, ErrSignerScheme) != c.badScheme {
				t.Errorf("%q: err %v (scheme error: %v)", c.in, err, c.badScheme)
			}
			if checkPrivValidatorLaddr(c.in) == nil {
				t.Errorf("%q: the config check accepts it", c.in)
			}
			continue
		}
		if err != nil || got.Scheme != c.scheme || got.Addr != c.addr {
			t.Errorf("%q: %+v %v", c.in, got, err)
		}
		if c.scheme == SignerNoise && got.Peer.String() != noisePeer {
			t.Errorf("%q: peer %s", c.in, got.Peer)
		}
		if err := checkPrivValidatorLaddr(c.in); err != nil {
			t.Errorf("%q: the config check refuses it: %v", c.in, err)
		}
	}
}

// The node's signer client re-asks after a failed request: without limit
// while the chain needs this validator, within CometBFT's budget
// otherwise; an error answer from the signer is final, and Close ends a
// re-ask loop.
func TestRemoteSignerAsksAgain(t *testing.T) {
	newSigner := func(needed bool) *remoteSigner {
		s := &remoteSigner{logger: log.NewNopLogger(), retryEvery: time.Millisecond, quit: make(chan struct{})}
		f := func() bool { return needed }
		s.needed.Store(&f)
		return s
	}
	gone := errors.New("read timeout")
	failing := func(n int, calls *int) func() error {
		return func() error {
			if *calls++; *calls <= n {
				return gone
			}
			return nil
		}
	}

	var calls int
	if err := newSigner(true).ask("vote", true, failing(3*signerRetryAttempts, &calls)); err != nil || calls != 3*signerRetryAttempts+1 {
		t.Fatalf("needed: %v after %d calls", err, calls)
	}
	calls = 0
	if err := newSigner(false).ask("vote", true, failing(3*signerRetryAttempts, &calls)); !errors.Is(err, gone) || calls != signerRetryAttempts {
		t.Fatalf("not needed: %v after %d calls, want CometBFT's %d", err, calls, signerRetryAttempts)
	}
	calls = 0
	if err := newSigner(true).ask("public key", false, failing(3*signerRetryAttempts, &calls)); !errors.Is(err, gone) || calls != signerRetryAttempts {
		t.Fatalf("public key: %v after %d calls", err, calls)
	}
	calls = 0
	refused := &privval.RemoteSignerError{Description: "refusing to double-sign"}
	if err := newSigner(true).ask("vote", true, func() error { calls++; return refused }); !errors.As(err, &refused) || calls != 1 {
		t.Fatalf("refused: %v after %d calls", err, calls)
	}
	s := newSigner(true)
	close(s.quit)
	if err := s.ask("vote", true, func() error { return gone }); !errors.Is(err, gone) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestChainNeeds(t *testing.T) {
	set := func(powers ...int64) (*cmttypes.ValidatorSet, crypto.Address) {
		var vals []*cmttypes.Validator
		for _, p := range powers {
			vals = append(vals, cmttypes.NewValidator(ed25519.GenPrivKey().PubKey(), p))
		}
		return cmttypes.NewValidatorSet(vals), vals[0].Address
	}
	for _, c := range []struct {
		powers []int64 // ours first
		want   bool
	}{
		{[]int64{10}, true},
		{[]int64{10, 10, 10}, true},      // the others hold exactly 2/3: not more
		{[]int64{10, 10, 10, 10}, false}, // the others hold 3/4
		{[]int64{40, 30, 30}, true},
		{[]int64{1, 30, 30}, false},
	} {
		vals, ours := set(c.powers...)
		if got := chainNeeds(vals, ours); got != c.want {
			t.Errorf("powers %v: needed %v, want %v", c.powers, got, c.want)
		}
		if chainNeeds(vals, ed25519.GenPrivKey().PubKey().Address()) {
			t.Errorf("powers %v: a key outside the set is needed", c.powers)
		}
	}
	if chainNeeds(nil, nil) {
		t.Error("no validator set: needed")
	}
}
