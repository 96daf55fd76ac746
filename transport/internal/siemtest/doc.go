// Package siemtest holds only tests: it checks the detection content in
// docs/siem (Sigma rules, the Splunk field extractions, the Elasticsearch
// index template and ingest pipeline) against audit entries that a real
// node and engine record while the tests drive them through each security
// event: an unauthorised write, a refused read, a replay, a key rotation
// and a retired key's signature, an access-policy change, a governance
// change, validator misbehaviour evidence and a truncated node log.
//
// The Sigma rules are parsed and evaluated by an independent Sigma
// implementation (github.com/bradleyjkemp/sigma-go) over the native JSON
// lines `dstt audit export --format json` writes; each rule must fire on
// the events it is written for and on nothing else.
//
// It lives under transport/internal because it starts the in-process test
// node (transport/internal/testnode), the node `dstt start` runs.
package siemtest
