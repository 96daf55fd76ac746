package privval

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cosmos/gogoproto/proto"

	cmtcrypto "github.com/cometbft/cometbft/crypto"
	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	"github.com/cometbft/cometbft/libs/protoio"
	cmtprivval "github.com/cometbft/cometbft/privval"
	cmtproto "github.com/cometbft/cometbft/proto/tendermint/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/vault"
	"github.com/dstt/dstt/security/verify"
)

// Validator signer errors.
var (
	// ErrDoubleSign: the request would sign conflicting data for an HRS
	// already signed, or an HRS below the last one.
	ErrDoubleSign = errors.New("privval: refusing to double-sign")
	// ErrNoSignState: the state file is missing; create it once with
	// InitSignState (`dstt signer init`), never after a signer has run.
	ErrNoSignState = errors.New("privval: validator sign-state file missing")
	// ErrBadSignState: the state file does not parse or is inconsistent.
	ErrBadSignState = errors.New("privval: validator sign-state file is damaged")
	// ErrSignStateLocked: another signer process holds the state file.
	ErrSignStateLocked = errors.New("privval: validator sign-state file is in use by another signer")
	// ErrSignerBroken: an earlier state write failed after the file may
	// have changed; restart the signer so it reloads the state from disk.
	ErrSignerBroken = errors.New("privval: validator signer stopped after a state write failure; restart it")
	// ErrVaultUnavailable: Vault stayed sealed or unreachable for
	// Config.RetryFor. Serve does not answer such a request: it hands it
	// back to the node (drops the connection), which asks again.
	ErrVaultUnavailable = errors.New("privval: Vault unavailable for the whole wait")
)

// Steps of the sign state, as CometBFT's FilePV numbers them.
const (
	stepPropose   int8 = 1
	stepPrevote   int8 = 2
	stepPrecommit int8 = 3
)

// SignRecord describes one new signature, for Config.Journal.
type SignRecord struct {
	Height        int64  `json:"height"`
	Round         int32  `json:"round"`
	Step          int8   `json:"step"`
	Type          string `json:"type"` // proposal, prevote, precommit
	SignBytesHash string `json:"sign_bytes_sha256"`
	Signature     []byte `json:"signature"`
	TimeUnixMs    int64  `json:"time_unix_ms"`
}

// Config configures NewValidatorSigner.
type Config struct {
	// ChainID the signer signs for; requests for another chain are refused.
	ChainID string
	// StateFile is the sign-state file (created by InitSignState).
	StateFile string
	// Journal, when set, gets one JSON line per new signature (SignRecord),
	// written after the state is durable and before the signature is
	// returned. An *os.File journal is fsynced each time.
	Journal io.Writer
	// RetryFor is how long one sign request keeps retrying while Vault is
	// sealed or unreachable (vault.ErrSealed, vault.ErrUnreachable) before
	// it fails with ErrVaultUnavailable, which Serve hands back to the node
	// unanswered: the node asks again (dstt's node keeps asking while the
	// chain needs this validator, see consensus), so signing resumes when
	// Vault is back, however long it was away. A request held past the
	// node's 5 s read timeout is asked again on a new connection; the
	// signature made meanwhile is the one returned. 0 fails at once.
	RetryFor time.Duration
	// Logger (nil = silent) hears about retries while Vault is unavailable.
	Logger *slog.Logger
}

// ValidatorSigner implements CometBFT's types.PrivValidator over a security.Signer
// with a durable double-sign guard. Safe for concurrent use (requests are
// serialised).
type ValidatorSigner struct {
	signer  security.Signer
	pub     cmted25519.PubKey
	chainID string
	path    string
	journal io.Writer
	retry   time.Duration
	log     *slog.Logger
	unlock  func() error
	now     func() time.Time

	mu     sync.Mutex
	state  cmtprivval.FilePVLastSignState
	broken error
}

var _ cmttypes.PrivValidator = (*ValidatorSigner)(nil)

// InitSignState creates a zero sign-state file at path (and its directory,
// mode 0700) if there is none; an existing file is left alone. Run it once
// when a validator key is first set up: re-creating the state of a key that
// has signed before removes the double-sign guard.
func InitSignState(path string) (created bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, fmt.Errorf("privval: sign state: %w", err)
	}
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("privval: sign state: %w", err)
	}
	if err := writeSignState(path, &cmtprivval.FilePVLastSignState{}, true); err != nil {
		return false, err
	}
	return true, nil
}

// LoadSignState reads a sign-state file.
func LoadSignState(path string) (cmtprivval.FilePVLastSignState, error) {
	var st cmtprivval.FilePVLastSignState
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, fmt.Errorf("%w: %s (create it once with `dstt signer init`)", ErrNoSignState, path)
	}
	if err != nil {
		return st, fmt.Errorf("privval: sign state: %w", err)
	}
	if err := cmtjson.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("%w: %s: %v", ErrBadSignState, path, err)
	}
	if st.Height < 0 || st.Round < 0 || st.Step < 0 || st.Step > stepPrecommit ||
		(len(st.SignBytes) > 0) != (len(st.Signature) > 0) {
		return st, fmt.Errorf("%w: %s: height %d round %d step %d, %d sign bytes, %d signature bytes",
			ErrBadSignState, path, st.Height, st.Round, st.Step, len(st.SignBytes), len(st.Signature))
	}
	return st, nil
}

// NewValidatorSigner loads the sign state (ErrNoSignState if missing) and
// locks it against other signer processes (ErrSignStateLocked) until Close.
func NewValidatorSigner(s security.Signer, cfg Config) (*ValidatorSigner, error) {
	pub := s.PubKey()
	if len(pub) != security.PubKeySize {
		return nil, fmt.Errorf("privval: validator signer: public key of %d bytes", len(pub))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.ChainID == "" || cfg.StateFile == "" {
		return nil, errors.New("privval: validator signer needs a chain id and a state file")
	}
	if _, err := LoadSignState(cfg.StateFile); err != nil {
		return nil, err
	}
	unlock, err := lockFile(cfg.StateFile + ".lock")
	if err != nil {
		return nil, err
	}
	st, err := LoadSignState(cfg.StateFile) // again, now that no other signer writes it
	if err != nil {
		_ = unlock()
		return nil, err
	}
	return &ValidatorSigner{
		signer: s, pub: cmted25519.PubKey(pub), chainID: cfg.ChainID, path: cfg.StateFile,
		journal: cfg.Journal, retry: cfg.RetryFor, log: cfg.Logger, unlock: unlock, now: time.Now, state: st,
	}, nil
}

// Close releases the state file lock.
func (pv *ValidatorSigner) Close() error {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	if pv.unlock == nil {
		return nil
	}
	err := pv.unlock()
	pv.unlock = nil
	pv.broken = errors.New("privval: validator signer closed")
	return err
}

// State returns the last signed height, round and step.
func (pv *ValidatorSigner) State() (height int64, round int32, step int8) {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	return pv.state.Height, pv.state.Round, pv.state.Step
}

// GetPubKey implements types.PrivValidator.
func (pv *ValidatorSigner) GetPubKey() (cmtcrypto.PubKey, error) { return pv.pub, nil }

// SignVote implements types.PrivValidator, as CometBFT's FilePV does: the
// vote extension of a non-nil precommit is always signed (in the same
// Vault request as the vote), and is not part of the double-sign guard.
func (pv *ValidatorSigner) SignVote(chainID string, vote *cmtproto.Vote) error {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	if err := pv.check(chainID); err != nil {
		return err
	}
	var step int8
	switch vote.Type {
	case cmtproto.PrevoteType:
		step = stepPrevote
	case cmtproto.PrecommitType:
		step = stepPrecommit
	default:
		return fmt.Errorf("privval: unknown vote type %v", vote.Type)
	}
	sameHRS, err := pv.checkHRS(vote.Height, vote.Round, step)
	if err != nil {
		return err
	}
	signBytes := cmttypes.VoteSignBytes(chainID, vote)
	var extBytes []byte
	if vote.Type == cmtproto.PrecommitType && !cmttypes.ProtoBlockIDIsNil(&vote.BlockID) {
		extBytes = cmttypes.VoteExtensionSignBytes(chainID, vote)
	} else if len(vote.Extension) > 0 {
		return errors.New("privval: unexpected vote extension: only non-nil precommits carry one")
	}

	if sameHRS {
		sig := pv.state.Signature
		if !bytes.Equal(signBytes, pv.state.SignBytes) {
			ts, ok := votesDifferOnlyInTime(pv.state.SignBytes, signBytes)
			if !ok {
				return fmt.Errorf("%w: a different vote at height %d round %d step %d was signed already", ErrDoubleSign, vote.Height, vote.Round, step)
			}
			vote.Timestamp = ts
		}
		var extSig []byte
		if extBytes != nil {
			sigs, err := pv.sign(extBytes)
			if err != nil {
				return err
			}
			extSig = sigs[0]
		}
		vote.Signature, vote.ExtensionSignature = sig, extSig
		return nil
	}

	msgs := [][]byte{signBytes}
	if extBytes != nil {
		msgs = append(msgs, extBytes)
	}
	sigs, err := pv.sign(msgs...)
	if err != nil {
		return err
	}
	if err := pv.persist(vote.Height, vote.Round, step, signBytes, sigs[0], vote.Type.String()); err != nil {
		return err
	}
	vote.Signature = sigs[0]
	vote.ExtensionSignature = nil
	if extBytes != nil {
		vote.ExtensionSignature = sigs[1]
	}
	return nil
}

// SignProposal implements types.PrivValidator.
func (pv *ValidatorSigner) SignProposal(chainID string, proposal *cmtproto.Proposal) error {
	pv.mu.Lock()
	defer pv.mu.Unlock()
	if err := pv.check(chainID); err != nil {
		return err
	}
	sameHRS, err := pv.checkHRS(proposal.Height, proposal.Round, stepPropose)
	if err != nil {
		return err
	}
	signBytes := cmttypes.ProposalSignBytes(chainID, proposal)
	if sameHRS {
		if !bytes.Equal(signBytes, pv.state.SignBytes) {
			ts, ok := proposalsDifferOnlyInTime(pv.state.SignBytes, signBytes)
			if !ok {
				return fmt.Errorf("%w: a different proposal at height %d round %d was signed already", ErrDoubleSign, proposal.Height, proposal.Round)
			}
			proposal.Timestamp = ts
		}
		proposal.Signature = pv.state.Signature
		return nil
	}
	sigs, err := pv.sign(signBytes)
	if err != nil {
		return err
	}
	if err := pv.persist(proposal.Height, proposal.Round, stepPropose, signBytes, sigs[0], "proposal"); err != nil {
		return err
	}
	proposal.Signature = sigs[0]
	return nil
}

func (pv *ValidatorSigner) check(chainID string) error {
	if pv.broken != nil {
		return pv.broken
	}
	if chainID != pv.chainID {
		return fmt.Errorf("privval: validator signer is for chain %q, asked to sign for %q", pv.chainID, chainID)
	}
	return nil
}

// checkHRS is FilePVLastSignState.CheckHRS with ErrDoubleSign on regressions.
func (pv *ValidatorSigner) checkHRS(h int64, r int32, s int8) (bool, error) {
	same, err := pv.state.CheckHRS(h, r, s)
	if err != nil {
		return false, fmt.Errorf("%w: %v", ErrDoubleSign, err)
	}
	return same, nil
}

// sign signs msgs, retrying for pv.retry while Vault is sealed or
// unreachable, and checks each signature against the public key.
func (pv *ValidatorSigner) sign(msgs ...[]byte) ([][]byte, error) {
	deadline := pv.now().Add(pv.retry)
	backoff := 50 * time.Millisecond
	for {
		sigs, err := pv.signOnce(msgs...)
		transient := errors.Is(err, vault.ErrSealed) || errors.Is(err, vault.ErrUnreachable)
		if err == nil || !transient || !pv.now().Add(backoff).Before(deadline) {
			if err == nil && backoff > 50*time.Millisecond {
				pv.log.Info("validator signer: Vault is back; signed")
			}
			if transient {
				err = fmt.Errorf("%w (%s): %w", ErrVaultUnavailable, pv.retry, err)
			}
			return sigs, err
		}
		if backoff == 50*time.Millisecond {
			pv.log.Warn("validator signer: Vault unavailable; holding the sign request", "for", time.Until(deadline).Round(time.Second), "err", err)
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// signOnce signs msgs (one request when the signer batches) and checks
// each signature against the public key.
func (pv *ValidatorSigner) signOnce(msgs ...[]byte) ([][]byte, error) {
	var sigs [][]byte
	if bs, ok := pv.signer.(security.BatchSigner); ok && len(msgs) > 1 {
		var err error
		if sigs, err = bs.SignBatch(msgs); err != nil {
			return nil, err
		}
	} else {
		for _, m := range msgs {
			sig, err := pv.signer.Sign(m)
			if err != nil {
				return nil, err
			}
			sigs = append(sigs, sig)
		}
	}
	for i, sig := range sigs {
		if !verify.Signature(pv.pub, msgs[i], sig) {
			return nil, errors.New("privval: validator signer: a signature does not verify against the validator key")
		}
	}
	return sigs, nil
}

// persist makes the new HRS durable, then journals it. On a failed write
// the signer stops signing (the file may hold the new state or the old).
func (pv *ValidatorSigner) persist(h int64, r int32, s int8, signBytes, sig []byte, typ string) error {
	next := cmtprivval.FilePVLastSignState{Height: h, Round: r, Step: s, Signature: sig, SignBytes: signBytes}
	if err := writeSignState(pv.path, &next, false); err != nil {
		pv.broken = fmt.Errorf("%w: %v", ErrSignerBroken, err)
		return pv.broken
	}
	pv.state = next
	if pv.journal != nil {
		sum := sha256.Sum256(signBytes)
		line, _ := json.Marshal(SignRecord{Height: h, Round: r, Step: s, Type: typ, SignBytesHash: hex.EncodeToString(sum[:]),
			Signature: sig, TimeUnixMs: pv.now().UnixMilli()})
		_, err := pv.journal.Write(append(line, '\n'))
		if f, ok := pv.journal.(*os.File); ok && err == nil {
			err = f.Sync()
		}
		if err != nil {
			// The state is durable; only the journal is behind. Withhold
			// this signature (it can be re-fetched for the same HRS).
			return fmt.Errorf("privval: validator signer journal: %w", err)
		}
	}
	return nil
}

// writeSignState writes st to path durably: temporary file, fsync, rename
// (or link, with exclusive, which fails if path exists), directory fsync.
func writeSignState(path string, st *cmtprivval.FilePVLastSignState, exclusive bool) error {
	data, err := cmtjson.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("privval: sign state: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("privval: sign state: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if exclusive {
			err = os.Link(tmp.Name(), path)
		} else {
			err = os.Rename(tmp.Name(), path)
		}
	}
	if err != nil {
		return fmt.Errorf("privval: sign state %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("privval: sign state: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("privval: sign state: sync %s: %w", dir, err)
	}
	return nil
}

// votesDifferOnlyInTime reports whether two canonical vote sign-bytes are
// equal but for the timestamp, and returns the first one's timestamp.
func votesDifferOnlyInTime(last, next []byte) (time.Time, bool) {
	var a, b cmtproto.CanonicalVote
	if protoio.UnmarshalDelimited(last, &a) != nil || protoio.UnmarshalDelimited(next, &b) != nil {
		return time.Time{}, false
	}
	ts := a.Timestamp
	a.Timestamp, b.Timestamp = time.Time{}, time.Time{}
	return ts, proto.Equal(&a, &b)
}

// proposalsDifferOnlyInTime is votesDifferOnlyInTime for proposals.
func proposalsDifferOnlyInTime(last, next []byte) (time.Time, bool) {
	var a, b cmtproto.CanonicalProposal
	if protoio.UnmarshalDelimited(last, &a) != nil || protoio.UnmarshalDelimited(next, &b) != nil {
		return time.Time{}, false
	}
	ts := a.Timestamp
	a.Timestamp, b.Timestamp = time.Time{}, time.Time{}
	return ts, proto.Equal(&a, &b)
}
