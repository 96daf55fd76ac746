package consensus

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	libp2pcrypto "github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Transports a node can use for P2P (InitOptions.Transport). Every validator of a chain
// must use the same one: the two do not talk to each other.
const (
	// TransportTCP is CometBFT's own p2p stack (MConnection over TCP, persistent_peers).
	TransportTCP = "tcp"
	// TransportLibP2P is CometBFT v0.40's experimental go-libp2p transport: QUIC over UDP
	// on the P2P listen port, peers named by libp2p peer IDs in [p2p.libp2p]
	// bootstrap_peers. It suits a consortium, whose peer IDs are known ahead.
	TransportLibP2P = "libp2p"
)

// Peer is another node that this node stays connected to: an entry of persistent_peers
// (tcp) or a persistent entry of [p2p.libp2p] bootstrap_peers (libp2p). Both name the
// node by an ID derived from its node key, so a Peer holds the public key itself.
type Peer struct {
	NodeKey crypto.PubKey // the peer's p2p public key (ed25519)
	Address string        // the peer's P2P listen address, host:port
}

// NodeID is the peer's CometBFT node ID (hex address of its node key).
func (p Peer) NodeID() string { return string(p2p.PubKeyToID(p.NodeKey)) }

// String is the persistent_peers form, ID@host:port.
func (p Peer) String() string { return p.NodeID() + "@" + p.Address }

func (p Peer) validate() error {
	if p.NodeKey == nil || p.NodeKey.Type() != ed25519.KeyType {
		return errors.New("want an ed25519 node key")
	}
	host, port, err := net.SplitHostPort(p.Address)
	if err != nil {
		return fmt.Errorf("address %q: want host:port", p.Address)
	}
	if host == "" {
		return fmt.Errorf("address %q: empty host", p.Address)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("address %q: port: want 1-65535", p.Address)
	}
	return nil
}

// LibP2PID is the libp2p peer ID of a node key (what `cometbft show-node-id --libp2p`
// prints): the identity multihash of its ed25519 public key, e.g. "12D3KooW...".
func LibP2PID(nodeKey crypto.PubKey) (string, error) {
	if nodeKey == nil || nodeKey.Type() != ed25519.KeyType {
		return "", errors.New("consensus: libp2p peer ID: want an ed25519 node key")
	}
	pub, err := libp2pcrypto.UnmarshalEd25519PublicKey(nodeKey.Bytes())
	if err != nil {
		return "", fmt.Errorf("consensus: libp2p peer ID: %w", err)
	}
	id, err := peer.IDFromPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("consensus: libp2p peer ID: %w", err)
	}
	return id.String(), nil
}

// applyPeers sets the transport and the peers on c. Peers were validated already.
func applyPeers(c *cfg.Config, transport string, peers []Peer) error {
	switch transport {
	case TransportTCP:
		entries := make([]string, len(peers))
		for i, p := range peers {
			entries[i] = p.String()
		}
		c.P2P.PersistentPeers = strings.Join(entries, ",")
		c.P2P.LibP2PConfig.Enabled = false
		c.P2P.LibP2PConfig.BootstrapPeers = []cfg.LibP2PBootstrapPeer{}
	case TransportLibP2P:
		c.P2P.PersistentPeers = ""
		c.P2P.LibP2PConfig.Enabled = true
		c.P2P.LibP2PConfig.BootstrapPeers = make([]cfg.LibP2PBootstrapPeer, len(peers))
		for i, p := range peers {
			id, err := LibP2PID(p.NodeKey)
			if err != nil {
				return err
			}
			// Persistent: reconnect with backoff whenever the connection drops (a peer
			// restarting), as persistent_peers do on the TCP transport.
			c.P2P.LibP2PConfig.BootstrapPeers[i] = cfg.LibP2PBootstrapPeer{Host: p.Address, ID: id, Persistent: true}
		}
	default:
		return fmt.Errorf("consensus: transport %q: want %s or %s", transport, TransportTCP, TransportLibP2P)
	}
	return nil
}
