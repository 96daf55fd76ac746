package consensus

import (
	"errors"
	"testing"
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
