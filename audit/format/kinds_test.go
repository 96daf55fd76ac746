package format

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
)

const (
	signer   = "3f9a5c0e6d7b8a1f2e3d4c5b6a7980f1e2d3c4b5"
	certHash = "9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab"
)

// sampleEntries returns entries of every kind shaped as their producers
// write them (abci/engine, the node audit hooks, the REST gateway), with
// the variants the formats map differently: unauthenticated and
// certificate clients, grants, revokes and policy rules, writes and
// deletes.
func sampleEntries() []audit.Entry {
	t0 := time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC)
	txh := []byte{0xde, 0xad, 0xbe, 0xef}
	es := []audit.Entry{
		{Kind: audit.KindTxCommitted, Actor: signer, Action: "put", Resources: []string{"greeting"}, CodeName: "OK", TxHash: txh},
		{Kind: audit.KindTxCommitted, Actor: signer, Action: "delete", Resources: []string{"a<b>&c"}, CodeName: "OK", TxHash: txh},
		{Kind: audit.KindTxCommitted, Actor: signer, Action: "batch", Resources: []string{"k1", "k2"}, CodeName: "OK", TxHash: txh},
		{Kind: audit.KindTxRejected, Actor: signer, Action: "put", Resources: []string{"k"}, Code: 9, CodeName: "CONFLICT", TxHash: txh},
		{Kind: audit.KindRBACDenied, Actor: signer, Action: "put", Resources: []string{"secret"}, Code: 11, CodeName: "UNAUTHORIZED", TxHash: txh},
		{Kind: audit.KindRBACDenied, Action: "put", Resources: []string{"secret"}, Code: 11, CodeName: "UNAUTHORIZED", TxHash: txh},
		{Kind: audit.KindPolicyChanged, Actor: signer, Action: "grant", Resources: []string{"role:writer@acme:" + signer}, CodeName: "OK", TxHash: txh},
		{Kind: audit.KindPolicyChanged, Actor: signer, Action: "revoke", Resources: []string{"role:writer@acme:" + signer}, CodeName: "OK", TxHash: txh},
		{Kind: audit.KindPolicyChanged, Actor: signer, Action: "policy", Resources: []string{"rule:writer@acme:/kv/*:write"}, CodeName: "OK", TxHash: txh},
		{Kind: audit.KindPolicyChanged, Actor: signer, Action: "batch", Resources: []string{"role:r@d:s", "rule:r@d:o:a"}, CodeName: "OK", TxHash: txh},
		{Kind: audit.KindValidatorChanged, Actor: signer, Action: "add_validator", Resources: []string{"validator:" + signer}, CodeName: "OK", TxHash: txh},
		{Kind: audit.KindOrgChanged, Actor: signer, Action: "add_org", Resources: []string{"org:acme"}, CodeName: "OK", TxHash: txh},
		{Kind: audit.KindEvidence, Action: "punish", Resources: []string{"validator:" + signer, "evidence:duplicate/vote@41"}},
		{Kind: audit.KindNodeStarted, Actor: "0b9f1e0cc8e3f7a2d4c6b8a0e2f4d6c8b0a2c4e6", Action: "start", Message: "dstt node starting"},
		{Kind: audit.KindNodeStopped, Action: "stop", Message: "dstt node stopped"},
		{Kind: audit.KindCheckTxRejected, Actor: signer, Action: "check_tx", Code: 3, CodeName: "BAD_SIGNATURE", Message: "signature does not verify", TxHash: txh},
		{Kind: audit.KindCheckTxRejected, Actor: signer, Endpoint: "192.0.2.7", Action: "check_tx", Resources: []string{"ip:192.0.2.7"}, Code: 12, CodeName: "REPLAY", Message: "duplicate dropped", TxHash: txh},
		{Kind: audit.KindCheckTxRejected, Endpoint: "2001:db8::9", Action: "check_tx", Resources: []string{"cert:" + certHash}, Code: 12, CodeName: "REPLAY", Message: "duplicate dropped", TxHash: txh},
		{Kind: audit.KindAuthFailed, Actor: "ip:2001:db8::7", Endpoint: "2001:db8::7", Action: "tls_handshake", Code: 11, CodeName: "UNAUTHORIZED", Message: "TLS handshake: bad certificate"},
		{Kind: audit.KindAuthFailed, Actor: "ip:192.0.2.7", Action: "read", Resources: []string{"kv:secret"}, Code: 11, CodeName: "UNAUTHORIZED", Message: "kv read of \"secret\" refused"},
		{Kind: audit.KindAuthFailed, Actor: "cert:" + certHash, Endpoint: "198.51.100.4", Action: "read", Resources: []string{"kv:secret"}, Code: 11, CodeName: "UNAUTHORIZED", Message: "refused"},
		{Kind: audit.KindAuthFailed, Actor: signer, Action: "query", Resources: []string{"/kv/secret"}, Code: 11, CodeName: "UNAUTHORIZED", Message: "reader may not read"},
		{Kind: audit.KindAuthFailed, Action: "query", Resources: []string{"/kv/secret"}, Code: 11, CodeName: "UNAUTHORIZED", Message: "unsigned read refused"},
		{Kind: audit.KindConfigLoaded, Action: "load", Resources: []string{"/home/n/config/config.toml"}, Message: "config.toml sha256=ab"},
		{Kind: audit.KindNodeLogTruncated, Action: "truncate", Resources: []string{"data/audit/node.log.damaged-1"}, Code: 0, Message: "gave up seq 8-9"},
		{Kind: audit.KindCheckTxRejected, Actor: "ip:2001:db8::7", Endpoint: "2001:db8::7", Action: "submit", Code: 5, CodeName: "BAD_SIGNATURE", Message: "refused before admission", TxHash: txh},
		{Kind: audit.KindCheckTxRejected, Actor: "cert:" + certHash, Endpoint: "192.0.2.8", Action: "submit", Resources: []string{"count:9999"}, Code: 5, CodeName: "BAD_SIGNATURE", Message: "9999 submit refusals counted"},
		{Kind: audit.KindGtxStep, Actor: signer, Action: "gtx_answer", Resources: []string{"gtx:t-1", "phase:aborting", "step:1/action", "attempt:1", "status:failed", "signer:" + signer, "due:0/compensate"}, CodeName: "OK", TxHash: txh},
	}
	c := audit.NewChain(audit.ChainHead{})
	for i := range es {
		es[i].Height, es[i].TxIndex, es[i].Time = uint64(40+i), uint32(i%3), t0.Add(time.Duration(i)*time.Second)
		es[i] = c.Append(es[i])
	}
	return es
}

func sampleName(e *audit.Entry) string {
	return fmt.Sprintf("%d_%s_%s", e.Seq, e.Kind, e.Action)
}

// TestSampleEntriesCoverEveryKind: the schema tests see every kind.
func TestSampleEntriesCoverEveryKind(t *testing.T) {
	var seen []audit.Kind
	for _, e := range sampleEntries() {
		seen = append(seen, e.Kind)
	}
	for _, k := range audit.Kinds() {
		if !slices.Contains(seen, k) {
			t.Errorf("no sample entry of kind %s", k)
		}
	}
}
