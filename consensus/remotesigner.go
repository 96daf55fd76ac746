package consensus

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cometbft/cometbft/privval"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Remote signer (priv_validator_laddr). When config.toml sets it, NewNode does not load
// priv_validator_key.json: CometBFT listens on that address for a remote signer (such as
// `dstt signer`, whose key lives in Vault) and NewNode waits up to 3 s for it to dial in,
// so start the signer first; it keeps redialling. Accepted forms:
//
//	tcp://HOST:PORT                      CometBFT's SecretConnection (encrypted, the signer is
//	                                     not authenticated: keep it on loopback or a private link)
//	unix:///path/to/socket               a local socket
//	noise://SIGNER-PEER-ID@IP:PORT       libp2p Noise; only that signer may connect
//
// ParseSignerAddress is the one parser of these forms: the node's config check and the
// signer's dialer both use it.

// Schemes of a priv_validator_laddr.
const (
	SignerTCP   = "tcp"
	SignerUnix  = "unix"
	SignerNoise = "noise"
)

// ErrSignerScheme: a priv_validator_laddr with none of the schemes above.
var ErrSignerScheme = errors.New("consensus: remote signer address: want tcp://HOST:PORT, unix://PATH or noise://PEER-ID@IP:PORT")

// SignerAddress is a parsed priv_validator_laddr.
type SignerAddress struct {
	Scheme string // SignerTCP, SignerUnix or SignerNoise
	// Addr is what to dial or listen on: the whole tcp://HOST:PORT (CometBFT's privval
	// takes it so), the socket path, or noise's IP:PORT.
	Addr string
	// Peer is noise's libp2p peer ID: on the node the signer allowed in, on the signer
	// the node it dials.
	Peer peer.ID
}

// ParseSignerAddress parses a priv_validator_laddr in one of the forms above;
// ErrSignerScheme when it has none of their schemes.
func ParseSignerAddress(addr string) (SignerAddress, error) {
	scheme, rest, _ := strings.Cut(addr, "://")
	switch scheme {
	case SignerTCP:
		if err := checkListenAddr(addr); err != nil {
			return SignerAddress{}, err
		}
		return SignerAddress{Scheme: SignerTCP, Addr: addr}, nil
	case SignerUnix:
		if rest == "" {
			return SignerAddress{}, errors.New("want unix:///path/to/socket")
		}
		return SignerAddress{Scheme: SignerUnix, Addr: rest}, nil
	case SignerNoise:
		id, hostport, err := privval.ParseNoiseAddr(addr)
		if err != nil {
			return SignerAddress{}, err
		}
		return SignerAddress{Scheme: SignerNoise, Addr: hostport, Peer: id}, nil
	}
	return SignerAddress{}, fmt.Errorf("%w, not %q", ErrSignerScheme, addr)
}

// checkPrivValidatorLaddr accepts an empty address (the local key file) and the forms above.
func checkPrivValidatorLaddr(addr string) error {
	if addr == "" {
		return nil
	}
	if _, err := ParseSignerAddress(addr); errors.Is(err, ErrSignerScheme) {
		return errors.New("want tcp://HOST:PORT, unix://PATH or noise://SIGNER-PEER-ID@IP:PORT")
	} else if err != nil {
		return err
	}
	return nil
}
