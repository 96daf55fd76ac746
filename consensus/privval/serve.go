package privval

import (
	"context"
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
			return nil, fmt.Errorf("noise handshake with %s: %w", addr.Peer, err)
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
	for ctx.Err() == nil {
		conn, err := dial()
		if err != nil {
			logger.Debug("signer: node not reachable yet", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 500*time.Millisecond)
			continue
		}
		backoff = 100 * time.Millisecond
		logger.Info("signer: connected to the node")
		err = serveConn(ctx, conn, pv, chainID, logger)
		_ = conn.Close()
		if ctx.Err() == nil {
			logger.Warn("signer: connection to the node ended; redialling", "err", err)
		}
	}
	logger.Info("signer: stopped")
	return nil
}

// serveConn answers requests on one connection until it fails or ctx is
// done (which closes it).
func serveConn(ctx context.Context, conn net.Conn, pv cmttypes.PrivValidator, chainID string, logger *slog.Logger) error {
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	r := protoio.NewDelimitedReader(conn, maxMsgSize)
	w := protoio.NewDelimitedWriter(conn)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(readTimeout)); err != nil {
			return err
		}
		var req privvalproto.Message
		if _, err := r.ReadMsg(&req); err != nil {
			return err
		}
		res, err := cmtprivval.DefaultValidationRequestHandler(pv, req, chainID)
		if err != nil {
			logger.Error("signer: request refused", "request", fmt.Sprintf("%T", req.Sum), "err", err)
		} else if logger.Enabled(ctx, slog.LevelDebug) {
			logger.Debug("signer: request served", "request", fmt.Sprintf("%T", req.Sum))
		}
		if err := conn.SetWriteDeadline(time.Now().Add(writeTimeout)); err != nil {
			return err
		}
		if _, err := w.WriteMsg(&res); err != nil {
			return err
		}
	}
}
