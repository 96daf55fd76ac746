package consensus

import (
	"errors"
	"strings"

	"github.com/cometbft/cometbft/privval"
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

// checkPrivValidatorLaddr accepts an empty address (the local key file) and the forms above.
func checkPrivValidatorLaddr(addr string) error {
	switch {
	case addr == "":
		return nil
	case strings.HasPrefix(addr, "tcp://"):
		return checkListenAddr(addr)
	case strings.HasPrefix(addr, "unix://"):
		if strings.TrimPrefix(addr, "unix://") == "" {
			return errors.New("want unix:///path/to/socket")
		}
		return nil
	case strings.HasPrefix(addr, "noise://"):
		_, _, err := privval.ParseNoiseAddr(addr)
		return err
	}
	return errors.New("want tcp://HOST:PORT, unix://PATH or noise://SIGNER-PEER-ID@IP:PORT")
}
