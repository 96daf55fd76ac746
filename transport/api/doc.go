// Package api defines the JSON documents of dstt's REST API, version 1:
// what the gateway (transport/rest) writes and the Go SDK
// (transport/client) reads. It holds data types and pure conversions only:
// no I/O.
//
// Conventions every document follows:
//
//   - Tx hashes are 64 upper-case hex digits (SHA-256 of the tx bytes, as
//     CometBFT prints them); versions are "HEIGHT.INDEX" ("0" = none).
//   - A value is given as "value" when it is valid UTF-8 and as
//     "value_base64" otherwise (never both); EncodeValue and KV.Bytes
//     convert.
//   - Every error is a Problem (RFC 9457, formerly RFC 7807), served as
//     application/problem+json, whose Code is stable: either one of the
//     Problem* constants here or a tx result code name (types.Code.Name,
//     e.g. "CONFLICT") when a transaction was refused or failed.
//   - Event ids are "HEIGHT.INDEX.WRITE": the block, the tx's index in it,
//     and the write's index in the tx. They order every committed write;
//     a subscriber resumes after an id with the Last-Event-ID header.
package api
