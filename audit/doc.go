// Package audit is dstt's tamper-evident audit log: the entry and its
// canonical encoding, the hash chain, verification (of a chain, of a node
// log's signatures, and of a consensus head against the validators' signed
// commit), the node security log, and the Source interface that sinks,
// export and verify read from. Formats live in audit/format, delivery to
// SIEMs in audit/sink. See docs/AUDIT.md.
//
// # Entries and the chain
//
// An Entry records one outcome. Entry.EncodeBody is its canonical binary
// encoding (version byte, then every field but Hash, length-prefixed, in a
// fixed order); Hash = SHA-256(EncodeBody()); Encode appends Hash; Decode
// accepts only canonical bytes. Chain.Append fills Seq (1-based),
// PrevHash (the previous Hash; empty for seq 1) and Hash, so each entry
// commits to every entry before it. Chain is pure: no I/O, no clock, not
// safe for concurrent use.
//
// There are two chains:
//
//   - consensus: the engine appends, in FinalizeBlock, entries derived only
//     from block contents (block time, never the wall clock), so every
//     honest node computes the same bytes; the app hash is
//     AppHash(state hash, audit head), so >2/3 of the validators sign the
//     head. The engine serves it on QueryEntries and QueryHead (encodings:
//     EntriesRequest, EntriesResponse, HeadResponse).
//     Entry.CommitTime, outside the encoding and the hash, is when the
//     entry's block was committed (the next block's header time), filled in
//     by the node that serves it; EventTime picks a record's timestamp and
//     names its clock (TimeSource). CheckStored checks a node's stored
//     chain against its last app hash before the node serves it
//     (ErrStoreMismatch).
//   - node: NodeLog, node-local events (CheckTx rejections, refused reads,
//     start/stop, config loaded), stamped with the wall clock, hash-chained
//     and signed with the node's audit key (security.Signer), in an
//     append-only file.
//
// # Verification
//
// Verify / VerifyAnchored / Verifier check hashes, sequence, links and
// height order; a failure is a *VerifyError whose Seq is the first bad
// sequence number (FirstBadSeq) and whose Err is one of ErrHash, ErrLink,
// ErrGap, ErrOrder, ErrTruncated, ErrHead (and, for node logs, ErrSignature,
// ErrUnsigned, ErrCorrupt). Truncation is only detectable against an
// expected head (an anchor). VerifyAgainstCommit proves a consensus
// HeadResponse: it recomputes the app hash and compares it with the header
// of the next block, whose commit is verified against the validator set
// (CometBFT's light-client rules), optionally tied to a trusted set.
// VerifyNodeLogFile checks a node log's CRCs, chain and signatures.
// VerifyExportFile checks a native JSON export, read strictly (DecodeJSON:
// unknown fields are refused); its Report's Scope says whether both ends
// were anchored (seq 1 or a given head; a trusted head, or ProveExport
// against the validators) or only internal consistency was shown
// (ErrUnanchored for the CLI).
//
// # Sources
//
// Source (Entries, Head) is what readers need; implementations must be
// safe for concurrent use. InMemorySource is the twin, NodeLog serves the
// node chain, RPCSource reads the consensus chain over CometBFT RPC (ABCI
// queries, signed with SignWith when the chain restricts reads). Sources
// that can announce new entries implement Notifier.
//
// # NodeLog
//
// OpenNodeLog(path, signer, opts) checks the stored file (every signature
// with signer's key) and starts one writer goroutine. Append returns once
// its entry is written, signed and fsynced; Record only queues (for hot
// paths; it blocks only while the queue is full); Sync waits for what was
// queued; Close drains and closes. Concurrent callers are batched: one
// write, one signature and one fsync per batch, and the signature covers
// the batch's last hash, hence every entry. A crash can leave only a torn
// last batch, which OpenNodeLog moves aside (PATH.torn-OFFSET); any other
// damage makes OpenNodeLog fail rather than extend a log it cannot vouch
// for. All methods are safe for concurrent use; after a write failure
// every call returns that error.
package audit
