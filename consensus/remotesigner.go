package consensus

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/libs/log"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/privval"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"
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

// Re-asking a remote signer. CometBFT's consensus does not ask again for a
// vote or proposal whose signing failed: the round goes on without it. When
// the other validators hold more than 2/3 of the power their votes move the
// round on and this validator is asked again in the next one; otherwise (a
// lone validator, or one whose power the others cannot do without) nothing
// moves, and the chain would stall until the node restarts. So the node's
// client of the signer keeps asking while this validator holds at least 1/3
// of the voting power, however long the signer (waiting for a sealed or
// unreachable Vault) takes; with less, it gives up after CometBFT's own
// budget (50 attempts 100 ms apart) and the round goes on without it. A
// signer's refusal (an error answer, such as a double-sign refusal) is
// final either way.
const (
	signerRetryInterval = 100 * time.Millisecond
	signerRetryAttempts = 50
	signerRetryLogEvery = 30 * time.Second
)

// remoteSigner is the node's client of a remote signer on
// priv_validator_laddr: CometBFT's SignerClient, re-asked as above.
type remoteSigner struct {
	client     *privval.SignerClient
	drop       func() // drops the signer's connection (the endpoint's DropConnection)
	logger     log.Logger
	retryEvery time.Duration // signerRetryInterval; shorter in tests

	// needed reports whether the chain cannot move without this
	// validator's signatures; nil until the node exists.
	needed atomic.Pointer[func() bool]

	quitOnce sync.Once
	quit     chan struct{}
}

var (
	_ cmttypes.PrivValidator = (*remoteSigner)(nil)
	_ io.Closer              = (*remoteSigner)(nil)
)

// newRemoteSigner listens on laddr for the signer and waits for it the way
// CometBFT does (up to 3 s for it to dial in and give its public key).
func newRemoteSigner(laddr, chainID string, nodeKey crypto.PrivKey, logger log.Logger) (*remoteSigner, error) {
	logger = logger.With("module", "privval")
	endpoint, err := privval.NewSignerListenerFromAddr(laddr, nodeKey, logger)
	if err != nil {
		return nil, fmt.Errorf("consensus: remote signer on %s: %w", laddr, err)
	}
	client, err := privval.NewSignerClient(endpoint, chainID)
	if err != nil {
		return nil, fmt.Errorf("consensus: remote signer on %s: %w", laddr, err)
	}
	s := &remoteSigner{client: client, drop: endpoint.DropConnection, logger: logger, retryEvery: signerRetryInterval, quit: make(chan struct{})}
	if _, err := client.GetPubKey(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("consensus: no remote signer on %s (start the signer first): %w", laddr, err)
	}
	return s, nil
}

// watchPower lets the signer client see the validator set of the last
// committed block (CometBFT's evidence pool keeps it) to decide whether
// to keep asking.
func (s *remoteSigner) watchPower(comet *nm.Node) {
	pub, err := s.client.GetPubKey()
	if err != nil {
		return
	}
	addr := pub.Address()
	needed := func() bool { return chainNeeds(comet.EvidencePool().State().Validators, addr) }
	s.needed.Store(&needed)
}

// chainNeeds reports whether the validators other than addr hold too little
// power (2/3 or less) to move a round on without it.
func chainNeeds(vals *cmttypes.ValidatorSet, addr crypto.Address) bool {
	if vals == nil {
		return false
	}
	_, v := vals.GetByAddress(addr)
	return v != nil && 3*v.VotingPower >= vals.TotalVotingPower()
}

func (s *remoteSigner) isNeeded() bool {
	f := s.needed.Load()
	return f != nil && (*f)()
}

// Close stops re-asking and drops the signer's connection. CometBFT's node
// calls it on stop, before it waits for consensus, which may be waiting in
// a re-ask. Like CometBFT's own client it leaves the listener to the
// process: stopping CometBFT's endpoint spins its accept loop until the
// stop completes.
func (s *remoteSigner) Close() error {
	s.quitOnce.Do(func() { close(s.quit) })
	return s.client.Close()
}

// GetPubKey implements types.PrivValidator, with CometBFT's budget.
func (s *remoteSigner) GetPubKey() (crypto.PubKey, error) {
	var pub crypto.PubKey
	err := s.ask("public key", false, func() (err error) { pub, err = s.client.GetPubKey(); return err })
	return pub, err
}

// SignVote implements types.PrivValidator.
func (s *remoteSigner) SignVote(chainID string, vote *cmtproto.Vote) error {
	what := fmt.Sprintf("%v at height %d round %d", vote.Type, vote.Height, vote.Round)
	return s.ask(what, true, func() error { return s.client.SignVote(chainID, vote) })
}

// SignProposal implements types.PrivValidator.
func (s *remoteSigner) SignProposal(chainID string, proposal *cmtproto.Proposal) error {
	what := fmt.Sprintf("proposal at height %d round %d", proposal.Height, proposal.Round)
	return s.ask(what, true, func() error { return s.client.SignProposal(chainID, proposal) })
}

// ask runs do until it succeeds, the signer refuses, or the budget is
// spent: CometBFT's, or none while the chain needs this signature
// (mayWait and isNeeded).
func (s *remoteSigner) ask(what string, mayWait bool, do func() error) error {
	var since, logged time.Time
	for attempt := 1; ; attempt++ {
		err := do()
		if err == nil {
			if !since.IsZero() {
				s.logger.Info("remote signer answered", "request", what, "after", time.Since(since).Round(time.Millisecond))
			}
			return nil
		}
		var refused *privval.RemoteSignerError
		if errors.As(err, &refused) {
			return err
		}
		// CometBFT drops the connection only after a timeout; one the
		// signer closed (it hands back a request Vault could not sign)
		// would fail every re-ask until the next ping notices. Drop it
		// so the re-ask takes the signer's new connection.
		if s.drop != nil {
			s.drop()
		}
		if attempt >= signerRetryAttempts && !(mayWait && s.isNeeded()) {
			return fmt.Errorf("consensus: remote signer: no answer for the %s after %d attempts: %w", what, attempt, err)
		}
		if since.IsZero() {
			since = time.Now()
		}
		if time.Since(since) >= 5*time.Second && time.Since(logged) >= signerRetryLogEvery {
			logged = time.Now()
			s.logger.Error("remote signer does not answer; asking again", "request", what,
				"waiting", time.Since(since).Round(time.Second), "until_it_answers", mayWait && s.isNeeded(), "err", err)
		}
		select {
		case <-s.quit:
			return fmt.Errorf("consensus: remote signer: stopped while asking for the %s: %w", what, err)
		case <-time.After(s.retryEvery):
		}
	}
}
