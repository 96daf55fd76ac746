package privval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	cmtcrypto "github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/libs/protoio"
	"github.com/cometbft/cometbft/lp2p"
	cmtprivval "github.com/cometbft/cometbft/privval"
	privvalproto "github.com/cometbft/cometbft/proto/tendermint/privval"
	cmttypes "github.com/cometbft/cometbft/types"
	libp2pnoise "github.com/libp2p/go-libp2p/p2p/security/noise"

	"github.com/dstt/dstt/consensus"
)

// Remote-signer connection limits.
const (
	// readTimeout: the node pings every ~3.3 s (2/3 of its 5 s timeout),
	// so a silent connection for this long is dead.
	readTimeout  = 15 * time.Second
	writeTimeout = 5 * time.Second
	maxMsgSize   = 1 << 20
)

// ErrHandshake: the node answered but the secure handshake failed, for
// noise:// typically a wrong peer id on either side. Serve logs it as an
// error and keeps redialling.
var ErrHandshake = errors.New("privval: secure handshake with the node failed")

// dialErrorLogEvery spaces out the log lines of a dial that keeps failing.
const dialErrorLogEvery = 10 * time.Second

// Dialer opens a connection to the node's priv_validator_laddr.
type Dialer func() (net.Conn, error)

// NodeDialer returns how to reach the node at addr, a priv_validator_laddr
// parsed by consensus.ParseSignerAddress. identity is the signer's
// connection key: tcp:// uses it for CometBFT's SecretConnection (the node
// does not authenticate it there), noise:// to authenticate the signer to
// the node, whose peer ID addr names.
func NodeDialer(addr consensus.SignerAddress, identity cmtcrypto.PrivKey) (Dialer, error) {
	switch addr.Scheme {
	case consensus.SignerTCP:
		return Dialer(cmtprivval.DialTCPFn(addr.Addr, writeTimeout, identity)), nil
	case consensus.SignerUnix:
		return Dialer(cmtprivval.DialUnixFn(addr.Addr)), nil
	case consensus.SignerNoise:
		return noiseDialer(addr, identity)
	}
	return nil, fmt.Errorf("%w, not %q", consensus.ErrSignerScheme, addr.Scheme)
}

// noiseDialer dials addr over TCP and secures the connection with libp2p
// Noise, authenticating the node as addr.Peer and the signer by identity.
func noiseDialer(addr consensus.SignerAddress, identity cmtcrypto.PrivKey) (Dialer, error) {
	lpk, err := lp2p.PrivateKeyFromCosmosKey(identity)
	if err != nil {
		return nil, err
	}
	tr, err := libp2pnoise.New(libp2pnoise.ID, lpk, nil)
	if err != nil {
		return nil, err
	}
	return func() (net.Conn, error) {
		raw, err := net.DialTimeout("tcp", addr.Addr, writeTimeout)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		defer cancel()
		conn, err := tr.SecureOutbound(ctx, raw, addr.Peer)
		if err != nil {
			raw.Close()
			return nil, fmt.Errorf("%w: noise with %s at %s (is %s the node's peer id, and does the node's priv_validator_laddr name this signer's?): %v",
				ErrHandshake, addr.Peer, addr.Addr, addr.Peer, err)
		}
		return conn, nil
	}, nil
}

// Serve is the remote signer's loop: it dials the node, answers its
// requests (ping, public key, votes, proposals) with pv for chainID, and
// redials whenever the connection drops or stays silent past the read
// timeout, until ctx is done; then it returns nil. A refused request is
// answered with CometBFT's error response and logged; it does not end the
// connection. logger may be nil.
func Serve(ctx context.Context, dial Dialer, pv cmttypes.PrivValidator, chainID string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	backoff := 100 * time.Millisecond
	var failingSince, logged time.Time
	for ctx.Err() == nil {
		conn, err := dial()
		if err == nil {
			logger.Info("signer: connected to the node")
			var served int
			served, err = serveConn(ctx, conn, pv, chainID, logger)
			_ = conn.Close()
			if ctx.Err() != nil {
				break
			}
			if served > 0 {
				backoff, failingSince, logged = 100*time.Millisecond, time.Time{}, time.Time{}
				if !errors.Is(err, ErrVaultUnavailable) { // logged already
					logger.Warn("signer: connection to the node ended; redialling", "err", err)
				}
				continue
			}
			err = fmt.Errorf("%w: the node closed the connection before asking anything (is it restarting, or does its priv_validator_laddr name another signer peer id? `dstt signer peer-id` prints this signer's): %v",
				ErrHandshake, err)
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
		}
		switch {
		case time.Since(logged) < dialErrorLogEvery:
		case errors.Is(err, ErrHandshake):
			logger.Error("signer: cannot connect to the node", "err", err)
			logged = time.Now()
		case time.Since(failingSince) > 3*dialErrorLogEvery:
			logger.Warn("signer: node still not reachable", "for", time.Since(failingSince).Round(time.Second), "err", err)
			logged = time.Now()
		default:
			logger.Debug("signer: node not reachable yet", "err", err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 500*time.Millisecond)
	}
	logger.Info("signer: stopped")
	return nil
}

// serveConn answers requests on one connection until it fails or ctx is
// done (which closes it).
// It returns how many requests it read.
func serveConn(ctx context.Context, conn net.Conn, pv cmttypes.PrivValidator, chainID string, logger *slog.Logger) (served int, err error) {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	r := protoio.NewDelimitedReader(conn, maxMsgSize)
	w := protoio.NewDelimitedWriter(conn)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(readTimeout)); err != nil {
			return served, err
		}
		var req privvalproto.Message
		if _, err := r.ReadMsg(&req); err != nil {
			return served, err
		}
		served++
		res, err := cmtprivval.DefaultValidationRequestHandler(pv, req, chainID)
		if errors.Is(err, ErrVaultUnavailable) {
			// An error answer would be final for the node; a dropped
			// connection makes it ask again once we redial.
			logger.Warn("signer: Vault still unavailable; handing the request back to the node, which asks again", "err", err)
			return served, err
		}
		if err != nil {
			logger.Error("signer: request refused", "request", fmt.Sprintf("%T", req.Sum), "err", err)
		} else if logger.Enabled(ctx, slog.LevelDebug) {
			logger.Debug("signer: request served", "request", fmt.Sprintf("%T", req.Sum))
		}
		if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			return served, err
		}
		if _, err := w.WriteMsg(&res); err != nil {
			return served, err
		}
	}
}
