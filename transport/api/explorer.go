package api

import "encoding/json"

// Paths of the explorer's reads: the consensus audit log, its anchors in
// the validators' signed commits, the access-control policy and a committed
// tx's bytes. The web explorer the gateway serves at PathUI reads them, as
// any client may.
const (
	PathAuditEntries = "/v1/audit/entries" // GET ?from=SEQ&limit=N: a page of the consensus audit log (AuditPage)
	PathAuditAnchor  = "/v1/audit/anchor"  // GET ?height=H: the audit head after block H, proved against block H+1's signed commit (AuditAnchor)
	PathPolicy       = "/v1/rbac/policy"   // GET: the access-control policy (types.PolicyView)
	PathTxBytesTail  = "/raw"              // GET /v1/txs/{hash}/raw: the committed tx's bytes (TxBytes)
	PathUI           = "/ui"               // the web explorer (static files)
)

// AuditPage answers GET /v1/audit/entries: committed entries of the
// consensus audit log from seq From on, ascending and gap-free, and the
// chain's head when they were read. Entries are audit.Entry's native JSON
// (hashes in lower-case hex; see docs/AUDIT.md).
type AuditPage struct {
	HeadSeq  uint64            `json:"head_seq"`
	HeadHash string            `json:"head_hash"`
	Entries  []json.RawMessage `json:"entries"`
}

// Anchor failures in AuditAnchor.Failure.
const (
	AnchorNotSignedYet = "NOT_SIGNED_YET" // block H+1, whose header signs the state after H, is not committed yet
	AnchorAppHash      = "APP_HASH"       // the signed app hash is not AppHash(state hash, audit head)
	AnchorCommit       = "COMMIT"         // the commit does not verify against the validator set
	AnchorValidators   = "VALIDATORS"     // the validator set does not match the header
	AnchorUnavailable  = "NOT_AVAILABLE"  // the node cannot read the commit (pruned, or no block store)
)

// AuditAnchor answers GET /v1/audit/anchor: the state hash and audit head
// after block Height, and the check, by the node's CometBFT light-client
// code (audit.VerifyAgainstCommit), that more than 2/3 of the voting power
// of the validator set signed block Height+1, whose header carries AppHash,
// and that AppHash = audit.AppHash(StateHash, head). A client recomputes
// the app hash itself and checks the entries' hash chain up to the head.
type AuditAnchor struct {
	Height         uint64   `json:"height"`
	StateHash      string   `json:"state_hash"`
	HeadSeq        uint64   `json:"head_seq"`
	HeadHash       string   `json:"head_hash"`
	Verified       bool     `json:"verified"`
	Failure        string   `json:"failure,omitempty"` // one of the Anchor* codes when not verified
	Detail         string   `json:"detail,omitempty"`  // prose, for people
	SignedHeight   int64    `json:"signed_height"`
	AppHash        string   `json:"app_hash,omitempty"` // from block SignedHeight's header
	BlockHash      string   `json:"block_hash,omitempty"`
	BlockTime      string   `json:"block_time,omitempty"`
	ValidatorsHash string   `json:"validators_hash,omitempty"`
	Validators     int      `json:"validators,omitempty"`
	TotalPower     int64    `json:"total_power,omitempty"`
	SignedPower    int64    `json:"signed_power,omitempty"`
	Signers        []string `json:"signers,omitempty"` // addresses of the validators whose commit signatures are in the block
	// Proof lets a client check the commit itself (present when the
	// commit could be read).
	Proof *CommitProof `json:"proof,omitempty"`
}

// TxBytes answers GET /v1/txs/{hash}/raw: a committed tx's encoded
// envelope (base64) and its place, read from the node's block store. It is
// readable by whoever may read the tx's result (GET /v1/txs/{hash}).
type TxBytes struct {
	Hash      string `json:"hash"`
	Height    int64  `json:"height"`
	Index     uint32 `json:"index"`
	BlockTime string `json:"block_time,omitempty"`
	Tx        string `json:"tx"`
}

// CommitProof is what a client needs to check block SignedHeight's commit
// itself: the 14 leaves whose Merkle root (CometBFT's
// merkle.HashFromByteSlices) is the block hash the validators signed, in
// header order (version, chain id, height, time, last block id, last commit
// hash, data hash, validators hash, next validators hash, consensus hash,
// app hash, last results hash, evidence hash, proposer address), the
// commit's signatures and the validator set that made them, in set order.
// Each precommit signs CometBFT's canonical vote (varint length, then
// CanonicalVote: type 2, height, round, block id, timestamp, chain id).
type CommitProof struct {
	HeaderLeaves []string         `json:"header_leaves"` // base64
	Round        int32            `json:"round"`
	PartsTotal   uint32           `json:"parts_total"`
	PartsHash    string           `json:"parts_hash"` // hex
	Signatures   []CommitSig      `json:"signatures"`
	Validators   []ProofValidator `json:"validators"`
}

// CommitSig is one validator's entry in a commit.
type CommitSig struct {
	Flag      int    `json:"flag"`                // 1 absent, 2 commit (signed this block), 3 nil
	Address   string `json:"address,omitempty"`   // hex
	Timestamp string `json:"timestamp,omitempty"` // RFC 3339 with nanoseconds
	Signature string `json:"signature,omitempty"` // base64
}

// ProofValidator is one validator of the set that signed a commit.
type ProofValidator struct {
	Address string `json:"address"` // hex
	PubKey  string `json:"pub_key"` // base64 ed25519 public key
	Power   int64  `json:"power"`
}
