package consensus

import (
	"context"
	"fmt"
	"strings"
	"time"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/libs/log"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	cmttypes "github.com/cometbft/cometbft/types"
)

// Peer admission (config.toml filter_peers, on in NewConfig). CometBFT
// v0.40 asks the application about a peer only while it connects: ABCI
// Query /p2p/filter/addr/HOST:PORT before the P2P handshake and
// /p2p/filter/id/NODE-ID after it, for inbound and outbound peers alike,
// and refuses the peer unless the answer's code is 0. That happens on the
// TCP transport only: the go-libp2p transport asks nothing. Once a peer is
// connected nothing asks again, and an ABCI application cannot drop a peer.
//
// So a node with filter_peers asks again itself (watchPeers): after every
// committed block (the NewBlock event, published after the application's
// Commit) it sends the same /p2p/filter/id query for every connected peer
// and stops each one the application now refuses
// (Switch.StopPeerForError). CometBFT redials a persistent peer it
// stopped, and every redial is refused by the filter at connection time;
// a stopped inbound peer's own redials are refused the same way.
//
// The go-libp2p transport has no peer admission: CometBFT asks nothing, and
// its peers are named by libp2p peer IDs, so the watcher does not run there.
//
// The watcher also redials, every redialInterval, each persistent peer
// (p2p.persistent_peers) that is neither connected nor being dialled and
// that the application admits. CometBFT's own redial of a persistent peer
// can end for good when the peer refused us (a node started before its
// org registered it: the peer's filter closes each connection right after
// the handshake, and CometBFT's reconnect loop can see its own earlier
// loop still marked as running and return), so without this a node
// admitted late could stay without some of its peers until restarted.

// peerFilterIDPath is the query CometBFT's own peer filter sends (node/setup.go).
const peerFilterIDPath = "/p2p/filter/id/"

// peerWatchSubscriber names the event bus subscription.
const peerWatchSubscriber = "dstt-peer-admission"

// redialInterval is how often the watcher redials missing persistent peers.
const redialInterval = 5 * time.Second

// watchPeers re-checks the connected peers after every committed block
// until the returned stop is called; stop waits for the watcher to end.
func watchPeers(comet *nm.Node, logger log.Logger) (stop func()) {
	persistent, errs := p2p.NewNetAddressStrings(splitPeers(comet.Config().P2P.PersistentPeers))
	for _, err := range errs {
		logger.Error("peer admission: persistent peer", "err", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			sub, err := comet.EventBus().Subscribe(ctx, peerWatchSubscriber, cmttypes.EventQueryNewBlock, 16)
			if err != nil {
				return // the event bus stopped, or stop was called
			}
			recheckPeers(comet, logger) // blocks may have passed while unsubscribed
			redial := time.NewTicker(redialInterval)
			for canceled := false; !canceled; {
				select {
				case <-ctx.Done():
					canceled = true
				case <-sub.Canceled(): // fell behind (or the bus stopped): subscribe again
					canceled = true
				case <-sub.Out():
					recheckPeers(comet, logger)
				case <-redial.C:
					redialPersistent(comet, persistent)
				}
			}
			redial.Stop()
			_ = comet.EventBus().Unsubscribe(context.Background(), peerWatchSubscriber, cmttypes.EventQueryNewBlock)
		}
	}()
	return func() { cancel(); <-done }
}

// recheckPeers asks the application about every connected peer and stops
// the ones it refuses.
func recheckPeers(comet *nm.Node, logger log.Logger) {
	sw := comet.Switch()
	for _, p := range sw.Peers().Copy() {
		ok, why, err := admitted(comet, p.ID())
		if err != nil {
			logger.Error("peer admission: query failed", "peer", p.ID(), "err", err)
			return
		}
		if !ok {
			logger.Info("peer admission: dropping a peer the application no longer admits", "peer", p.ID(), "reason", why)
			sw.StopPeerForError(p, fmt.Errorf("peer admission: no longer admitted: %s", why))
		}
	}
}

// admitted asks the application whether it admits peer id now.
func admitted(comet *nm.Node, id p2p.ID) (bool, string, error) {
	res, err := comet.ProxyApp().Query().Query(context.Background(), &abcitypes.RequestQuery{Path: peerFilterIDPath + string(id)})
	if err != nil {
		return false, "", err
	}
	return !res.IsErr(), res.Log, nil
}

// redialPersistent dials each persistent peer that is neither connected nor
// being dialled and that the application admits (TCP transport only).
func redialPersistent(comet *nm.Node, peers []*p2p.NetAddress) {
	sw, ok := comet.Switch().(*p2p.Switch)
	if !ok || !sw.IsRunning() {
		return
	}
	for _, addr := range peers {
		if sw.IsDialingOrExistingAddress(addr) {
			continue
		}
		if ok, _, err := admitted(comet, addr.ID); err != nil || !ok {
			continue
		}
		go func() { _ = sw.DialPeerWithAddress(addr) }() // a failed dial starts CometBFT's reconnect loop
	}
}

// ConfiguredPeerIDs are the node IDs the operator named in config.toml:
// p2p.persistent_peers and p2p.seeds (ID@host:port) and
// p2p.unconditional_peer_ids. A node without chain state admits only these
// (abci.App.AdmitBeforeState).
func ConfiguredPeerIDs(c *cfg.Config) []string {
	var ids []string
	for _, p := range append(splitPeers(c.P2P.PersistentPeers), splitPeers(c.P2P.Seeds)...) {
		if id, _, ok := strings.Cut(p, "@"); ok {
			ids = append(ids, id)
		}
	}
	return append(ids, splitPeers(c.P2P.UnconditionalPeerIDs)...)
}

func splitPeers(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
