package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/testnet/testca"
)

// mustJSON runs the CLI with -o json and fails the test unless it exits 0.
func (n *devNode) mustJSON(args ...string) map[string]any {
	n.t.Helper()
	v, code := n.cliJSON("", args...)
	if code != 0 {
		n.t.Fatalf("dstt %v: exit %d: %v", args, code, v)
	}
	return v
}

// jsonError decodes an -o json error from stderr.
func jsonError(t *testing.T, stderr string) cliError {
	t.Helper()
	var e cliError
	if err := json.Unmarshal([]byte(stderr), &e); err != nil || e.Error.Code == "" {
		t.Fatalf("stderr is not a JSON error (%v): %q", err, stderr)
	}
	return e
}

// After dstt keys rotate, "address" stays the identity (the subject RBAC
// grants name: docs/RBAC.md's `keys show -o json | jq .address`), reads
// signed by the new key work, and keys history / query identity show the
// identity's keys. A grant made to the printed address after the rotation
// reaches the key.
func TestKeysRotateKeepsIdentityE2E(t *testing.T) {
	n := newDevNode(t)
	n.start()
	kb := []string{"--keyring-backend", "test"}
	alice := n.mustJSON(append([]string{"keys", "add", "alice"}, kb...)...)
	aliceAddr := alice["address"].(string)
	n.mustJSON("rbac", "allow", aliceAddr, "write", "bank1/*")
	n.mustJSON("rbac", "allow", aliceAddr, "read", "bank1/*")
	n.mustJSON(append([]string{"tx", "put", "bank1/a", "1", "--from", "alice"}, kb...)...)

	rot := n.mustJSON(append([]string{"keys", "rotate", "alice"}, kb...)...)
	if rot["identity"] != aliceAddr {
		t.Fatalf("rotate: %v", rot)
	}
	// Reads signed by the identity's new key.
	if g := n.mustJSON(append([]string{"query", "get", "bank1/a", "--from", "alice"}, kb...)...); g["value"] != "1" {
		t.Fatalf("signed read after rotation: %v", g)
	}
	show := n.mustJSON(append([]string{"keys", "show", "alice"}, kb...)...)
	newAddr, _ := show["key_address"].(string)
	if show["address"] != aliceAddr || newAddr == aliceAddr || len(newAddr) != 40 {
		t.Fatalf("keys show after rotation: %v (identity %s)", show, aliceAddr)
	}
	out, _, code := n.cli("", append([]string{"keys", "list", "-o", "json"}, kb...)...)
	var list []keyJSON
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("keys list: %d %q", code, out)
	}
	for _, k := range list {
		if strings.HasPrefix(k.Name, "alice") && k.Address != aliceAddr {
			t.Fatalf("keys list: %s has address %s, want the identity %s", k.Name, k.Address, aliceAddr)
		}
	}
	// RBAC.md's recipe after the rotation grants to the identity.
	subject := show["address"].(string)
	n.mustJSON("tx", "put", "bank2/b", "2")
	n.mustJSON("rbac", "allow", subject, "read", "bank2/*")
	if g := n.mustJSON(append([]string{"query", "get", "bank2/b", "--from", "alice"}, kb...)...); g["value"] != "2" {
		t.Fatalf("read granted to the printed address: %v", g)
	}
	// The chain's view: keys history and query identity.
	h := n.mustJSON(append([]string{"keys", "history", "alice"}, kb...)...)
	keys, _ := h["keys"].([]any)
	if h["identity"] != aliceAddr || len(keys) != 2 || keys[1].(map[string]any)["address"] != newAddr {
		t.Fatalf("keys history: %v", h)
	}
	if id := n.mustJSON("query", "identity", newAddr); id["identity"] != aliceAddr {
		t.Fatalf("query identity %s: %v", newAddr, id)
	}
	text, _, _ := n.cli("", append([]string{"keys", "history", "alice"}, kb...)...)
	if !strings.Contains(text, "acts for identity "+aliceAddr) || !strings.Contains(text, "current") {
		t.Fatalf("keys history text: %q", text)
	}
	// Errors under -o json: a JSON object on stderr, a stable code, exit 1.
	_, errs, code := n.cli("", append([]string{"query", "get", "bank3/x", "--from", "alice", "-o", "json"}, kb...)...)
	if e := jsonError(t, errs); code != 1 || e.Error.Code != "UNAUTHORIZED" {
		t.Fatalf("unauthorized read: exit %d %+v", code, e)
	}
	_, errs, code = n.cli("", "query", "identity", "zz", "-o", "json")
	if e := jsonError(t, errs); code != 1 || e.Error.Code != "BAD_REQUEST" {
		t.Fatalf("query identity of a non-address: exit %d %+v", code, e)
	}
	n.stop()
}

// The CLI talks to a TLS gateway that requires client certificates
// (--ca, --cert, --key); a TLS failure is named as such, not "node
// unreachable"; /healthz answers without a client certificate.
func TestCLIWithTLSGatewayE2E(t *testing.T) {
	n := newDevNode(t)
	dir := t.TempDir()
	ca := testca.New(t)
	scert, skey := ca.Issue(t, "gateway", true)
	ccert, ckey := ca.Issue(t, "operator", false)
	caFile := testca.WriteFile(t, dir, "ca.pem", ca.PEM)
	certFile, keyFile := testca.WriteFile(t, dir, "client.pem", ccert), testca.WriteFile(t, dir, "client.key", ckey)
	n.extra = []string{"--rest-tls-cert", testca.WriteFile(t, dir, "server.pem", scert), "--rest-tls-key", testca.WriteFile(t, dir, "server.key", skey),
		"--rest-tls-client-ca", caFile, "--rest-tls-client-auth", "require"}
	n.start()
	node := "https://" + n.rest
	tlsArgs := []string{"--node", node, "--ca", caFile, "--cert", certFile, "--key", keyFile}
	n.mustJSON(append([]string{"tx", "put", "tls/k", "v"}, tlsArgs...)...)
	if g := n.mustJSON(append([]string{"query", "get", "tls/k"}, tlsArgs...)...); g["value"] != "v" {
		t.Fatalf("get over TLS: %v", g)
	}
	// The same from client.json and the environment.
	cc, err := loadClientConfig(n.home)
	if err != nil {
		t.Fatal(err)
	}
	cc.TLSCA, cc.TLSCert = caFile, certFile
	if err := saveClientConfig(n.home, cc); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DSTT_TLS_KEY", keyFile)
	n.mustJSON("query", "get", "tls/k", "--node", node)
	os.Unsetenv("DSTT_TLS_KEY")
	cc.TLSCA, cc.TLSCert = "", ""
	if err := saveClientConfig(n.home, cc); err != nil {
		t.Fatal(err)
	}

	// Without the CA: a TLS error that says what to do.
	_, errs, code := n.cli("", "query", "get", "tls/k", "--node", node, "--cert", certFile, "--key", keyFile, "-o", "json")
	if e := jsonError(t, errs); code != 1 || e.Error.Code != errCodeTLS || !strings.Contains(e.Error.Message, "--ca") {
		t.Fatalf("without --ca: exit %d %+v", code, e)
	}
	// Without a client certificate: refused per route, with its own code.
	_, errs, code = n.cli("", "query", "get", "tls/k", "--node", node, "--ca", caFile, "-o", "json")
	if e := jsonError(t, errs); code != 1 || e.Error.Code != "CLIENT_CERT_REQUIRED" {
		t.Fatalf("without a client certificate: exit %d %+v", code, e)
	}
	// Plain http against the TLS gateway.
	_, errs, code = n.cli("", "query", "get", "tls/k", "--node", "http://"+n.rest, "-o", "json")
	if e := jsonError(t, errs); code != 1 || e.Error.Code != errCodeTLS || !strings.Contains(e.Error.Message, "https://") {
		t.Fatalf("http:// against https: exit %d %+v", code, e)
	}
	// A health probe needs no client certificate.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}
	resp, err := hc.Get(node + "/healthz")
	if err != nil {
		t.Fatalf("/healthz without a client certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz without a client certificate: %d", resp.StatusCode)
	}
	n.stop()
}

// gov sign refuses a key that administers no member org (its signature
// would not count); gov show says who signed for which org and how many
// more are needed; gov orgs and validators print tables in text mode.
func TestGovSignShowE2E(t *testing.T) {
	n := newDevNode(t)
	kb := []string{"--keyring-backend", "test"}
	addrs := map[string]string{}
	for _, name := range []string{"dev", "org1-admin", "org2-admin", "mallory"} {
		addrs[name] = n.mustJSON(append([]string{"keys", "add", name}, kb...)...)["address"].(string)
	}
	if out, errs, code := n.cli("", "init", "--admin", addrs["dev"], "--chain-id", "gov-e2e", "--rpc-laddr", n.rpc, "--p2p-laddr", n.p2p); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errs)
	}
	n.withOrgs([]map[string]any{{"id": "org1", "admins": []string{addrs["org1-admin"]}}, {"id": "org2", "admins": []string{addrs["org2-admin"]}}, {"id": "org3", "admins": []string{addrs["dev"]}}}, 2, "dev")
	n.start()

	prop := filepath.Join(t.TempDir(), "prop.json")
	n.mustJSON("gov", "propose", "add-org", "org4", "--admin", addrs["mallory"], "-f", prop)
	_, errs, code := n.cli("", "gov", "sign", prop, "--from", "mallory", "-o", "json")
	if e := jsonError(t, errs); code != 1 || e.Error.Code != errCodeNotMember {
		t.Fatalf("gov sign by a non-member: exit %d %+v", code, e)
	}
	show := n.mustJSON("gov", "show", prop)
	if sigs := show["signatures"].([]any); len(sigs) != 0 || show["needed"].(float64) != 2 {
		t.Fatalf("a refused signature was written: %v", show)
	}
	n.mustJSON("gov", "sign", prop, "--from", "org1-admin")
	show = n.mustJSON("gov", "show", prop)
	sigs := show["signatures"].([]any)
	if len(sigs) != 1 || sigs[0].(map[string]any)["counts_for"] != "org1" || show["needed"].(float64) != 1 || show["threshold"].(float64) != 2 {
		t.Fatalf("gov show after one signature: %v", show)
	}
	text, _, _ := n.cli("", "gov", "show", prop)
	if !strings.Contains(text, "needs 1 more") || !strings.Contains(text, "org2, org3") {
		t.Fatalf("gov show text: %q", text)
	}
	n.mustJSON("gov", "sign", prop, "--from", "org2-admin")
	if show = n.mustJSON("gov", "show", prop); show["needed"].(float64) != 0 {
		t.Fatalf("gov show after two signatures: %v", show)
	}
	n.mustJSON("gov", "submit", prop)
	orgs, _, code := n.cli("", "gov", "orgs")
	if code != 0 || strings.HasPrefix(strings.TrimSpace(orgs), "{") || !strings.Contains(orgs, "org4") || !strings.Contains(orgs, "k = 2") {
		t.Fatalf("gov orgs text: %q", orgs)
	}
	vals, _, code := n.cli("", "gov", "validators")
	if code != 0 || strings.HasPrefix(strings.TrimSpace(vals), "[") || !strings.Contains(vals, "total power") {
		t.Fatalf("gov validators text: %q", vals)
	}
	n.stop()
}

// --timeout above what the node waits for a commit is not cut silently.
func TestTimeoutAboveCommitCapWarnsE2E(t *testing.T) {
	n := newDevNode(t)
	n.start()
	_, errs, code := n.cli("", "tx", "put", "t/k", "v", "--timeout", "3m")
	if code != 0 || !strings.Contains(errs, "warning: --timeout 3m0s is above") {
		t.Fatalf("REST: exit %d %q", code, errs)
	}
	_, errs, code = n.cli("", "tx", "put", "t/k", "v", "--timeout", "20s", "--transport", "rpc", "--node", n.rpc)
	if code != 0 || !strings.Contains(errs, "timeout_broadcast_tx_commit") {
		t.Fatalf("RPC: exit %d %q", code, errs)
	}
	if _, errs, _ = n.cli("", "tx", "put", "t/k", "v", "--timeout", "20s"); strings.Contains(errs, "warning") {
		t.Fatalf("a timeout within the gateway's wait warned: %q", errs)
	}
	n.stop()
}

func editGenesisAppState(t *testing.T, path string, edit func(map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	app, ok := doc["app_state"].(map[string]any)
	if !ok {
		t.Fatalf("genesis app_state: %v", doc["app_state"])
	}
	edit(app)
	if b, err = json.MarshalIndent(doc, "", "  "); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
