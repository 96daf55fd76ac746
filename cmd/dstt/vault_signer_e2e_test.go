package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/consensus/privval"
	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/security/vault"
	"github.com/dstt/dstt/security/vault/vaulttest"
)

// These tests run a validator whose consensus key is a Vault transit key,
// signed through `dstt signer` over CometBFT's remote-signer protocol,
// against a real Vault dev server, with the Vault policy docs/KEYS.md gives
// a validator's signer.

const vaultValidatorKey = "validator0"

// keysDocValidatorPolicy is the validator-signer policy block of
// docs/KEYS.md, so the tests use exactly what the doc tells operators.
func keysDocValidatorPolicy(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "KEYS.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)\\$ vault policy write " + vaultValidatorKey + " - <<'EOF'\n(.*?)\nEOF\n")
	if m := re.FindStringSubmatch(string(doc)); m != nil {
		return m[1]
	}
	t.Fatalf("docs/KEYS.md has no `vault policy write %s` block", vaultValidatorKey)
	return ""
}

// withoutVar drops name's entries from env.
func withoutVar(env []string, name string) []string {
	var out []string
	for _, e := range env {
		if !strings.HasPrefix(e, name+"=") {
			out = append(out, e)
		}
	}
	return out
}

// vaultValidator is a one-validator chain whose genesis validator is the
// Vault key validator0, made with `dstt init --validator-pubkey`.
type vaultValidator struct {
	t                  *testing.T
	bin, home, rpc     string
	journal, signerDir string
	pub                cmted25519.PubKey
	signerEnv          []string
}

const vaultChainID = "vault-chain"

func newVaultValidator(t *testing.T, srv *vaulttest.Server) *vaultValidator {
	t.Helper()
	v := &vaultValidator{t: t, bin: dsttBinary(t), home: t.TempDir()}
	if _, err := srv.Vault("").CreateKey(context.Background(), vaultValidatorKey, vault.TransitKeyEd25519); err != nil {
		t.Fatal(err)
	}
	// The signer's own AppRole: only the policy of docs/KEYS.md.
	srv.PutPolicy(vaultValidatorKey, keysDocValidatorPolicy(t))
	roleID, secretID := srv.AppRole(vaultValidatorKey, []string{vaultValidatorKey}, time.Hour, 2*time.Hour)
	v.signerEnv = append(withoutVar(srv.Env(""), "VAULT_TOKEN"), "DSTT_VAULT_ROLE_ID="+roleID, "DSTT_VAULT_SECRET_ID="+secretID)

	out, errs, code := vcli(t, v.bin, v.home, v.signerEnv, "signer", "init", "--key", vaultValidatorKey, "-o", "json")
	if code != 0 {
		t.Fatalf("signer init: %s %s", out, errs)
	}
	var info struct {
		PubKey json.RawMessage `json:"pub_key"`
		Hex    string          `json:"pub_key_hex"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatal(err)
	}
	pub, _ := hex.DecodeString(info.Hex)
	v.pub = cmted25519.PubKey(pub)
	v.rpc = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	laddr := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	// The genesis names the Vault key, from what show-validator printed.
	if out, errs, code := vcli(t, v.bin, v.home, vaulttest.CleanEnv(), "init", "--chain-id", vaultChainID,
		"--validator-pubkey", string(info.PubKey), "--priv-validator-laddr", laddr,
		"--rpc-laddr", v.rpc, "--p2p-laddr", fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))); code != 0 {
		t.Fatalf("init --validator-pubkey: %s %s", out, errs)
	}
	editConfig(t, filepath.Join(v.home, "config", "config.toml"), map[string]string{
		"create_empty_blocks": "true",
		"timeout_commit":      `"100ms"`,
	})
	if err := saveClientConfig(v.home, clientConfig{Node: v.rpc, KeyringBackend: keyring.BackendTest, From: devKeyName}); err != nil {
		t.Fatal(err)
	}
	v.journal = filepath.Join(v.home, "sign-journal.jsonl")
	v.signerDir = filepath.Join(v.home, "signer")
	return v
}

func (v *vaultValidator) startSigner(args ...string) *proc {
	return startProc(v.t, v.signerEnv, v.bin, append([]string{"--home", v.home, "signer", "start", "--key", vaultValidatorKey,
		"--journal", v.journal, "--log-level", "warn"}, args...)...)
}

func (v *vaultValidator) startNode() *proc {
	return startProc(v.t, vaulttest.CleanEnv(), v.bin, "--home", v.home, "start", "--log-level", "error", "--comet-log-level", "error")
}

// checkJournal checks the signer's journal: one sign-bytes per HRS,
// strictly increasing HRS, and the state file at the last one. It returns
// the number of signatures and each height's precommit signatures.
func (v *vaultValidator) checkJournal() (int, map[int64]map[string]bool) {
	t := v.t
	t.Helper()
	type hrs struct {
		h int64
		r int32
		s int8
	}
	seen := map[hrs]string{}
	sigs := map[int64]map[string]bool{}
	var last hrs
	f, err := os.Open(v.journal)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	for sc := bufio.NewScanner(f); sc.Scan(); lines++ {
		var rec privval.SignRecord
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("journal line %d: %v", lines+1, err)
		}
		k := hrs{rec.Height, rec.Round, rec.Step}
		if prev, ok := seen[k]; ok && prev != rec.SignBytesHash {
			t.Fatalf("DOUBLE SIGN at %+v: %s and %s", k, prev, rec.SignBytesHash)
		}
		if lines > 0 && !(k.h > last.h || k.h == last.h && (k.r > last.r || k.r == last.r && k.s > last.s)) {
			t.Fatalf("journal not strictly increasing: %+v after %+v", k, last)
		}
		seen[k], last = rec.SignBytesHash, k
		if rec.Step == 3 { // precommit
			if sigs[rec.Height] == nil {
				sigs[rec.Height] = map[string]bool{}
			}
			sigs[rec.Height][hex.EncodeToString(rec.Signature)] = true
		}
	}
	st, err := privval.LoadSignState(filepath.Join(v.signerDir, "priv_validator_state.json"))
	if err != nil || st.Height != last.h || st.Round != last.r || st.Step != last.s {
		t.Fatalf("state file %+v, journal ends at %+v (%v)", st, last, err)
	}
	return lines, sigs
}

// checkCommits checks heights 1..final-1 of the running node: each commit
// verifies against the Vault key with a signature from the journal, and
// no block carries evidence.
func (v *vaultValidator) checkCommits(final int64, sigs map[int64]map[string]bool) {
	t := v.t
	t.Helper()
	hc, err := rpchttp.New(v.rpc, "/websocket")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	vals := cmttypes.NewValidatorSet([]*cmttypes.Validator{cmttypes.NewValidator(v.pub, consensus.ValidatorPower)})
	for h := int64(1); h < final; h++ {
		c, err := hc.Commit(ctx, &h)
		if err != nil {
			t.Fatalf("commit %d: %v", h, err)
		}
		if err := vals.VerifyCommit(vaultChainID, c.Commit.BlockID, h, c.Commit); err != nil {
			t.Fatalf("commit %d does not verify against the Vault key: %v", h, err)
		}
		if !sigs[h][hex.EncodeToString(c.Commit.Signatures[0].Signature)] {
			t.Fatalf("commit %d carries a precommit signature the signer did not journal", h)
		}
		b, err := hc.Block(ctx, &h)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Block.Evidence.Evidence) > 0 {
			t.Fatalf("block %d carries evidence: %v", h, b.Block.Evidence.Evidence)
		}
	}
}

// checkAndStop checks the journal and every commit so far (no double
// sign, no evidence), then stops the watch, the signer and the node. It
// returns the height checked up to and the number of signatures.
func (v *vaultValidator) checkAndStop(chain *heightWatch, signer, node *proc) (final int64, signatures int) {
	v.t.Helper()
	final = chain.status()
	signatures, sigs := v.checkJournal()
	v.checkCommits(final, sigs)
	chain.stop()
	signer.stop()
	node.stop()
	return final, signatures
}

// TestVaultSignerE2E: a single-validator chain signing through `dstt
// signer` with its key in Vault (TLS, AppRole with the doc's policy) for
// 100+ heights, with the signer killed -9 and restarted three times and
// Vault sealed for a while. No double sign: every HRS the signer journaled
// has one sign-bytes, and every commit verifies against the Vault key with
// a signature the signer journaled. The node serves reads while it cannot
// sign.
func TestVaultSignerE2E(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{TLS: true})
	v := newVaultValidator(t, srv)
	signer := v.startSigner()
	node := v.startNode()
	logs := func() string { return fmt.Sprintf("node:\n%s\nsigner:\n%s", node.logs, signer.logs) }
	chain := watchHeights(t, v.rpc, 90*time.Second, logs)
	start := time.Now()
	chain.waitHeight(3, 90*time.Second)
	// A write, to read back while the validator cannot sign.
	devKey(t, v.home)
	mustCLI := func(args ...string) {
		t.Helper()
		if out, errs, code := vcli(t, v.bin, v.home, vaulttest.CleanEnv(), args...); code != 0 {
			t.Fatalf("dstt %v: %s %s", args, out, errs)
		}
	}
	mustCLI("tx", "put", "chain/k", "v")

	// kill -9 the signer three times at different points, restart it.
	for i, at := range []int64{30, 55, 80} {
		chain.waitHeight(at, 120*time.Second)
		time.Sleep(time.Duration(37*i) * time.Millisecond) // vary where in a height the kill lands
		signer.kill()
		chain.observeNoProgress(1500 * time.Millisecond) // no signer, no blocks
		mustCLI("query", "get", "chain/k")               // reads are served while the validator cannot sign
		signer = v.startSigner()
	}
	// Vault sealed: the signer holds the request, the chain stalls, also
	// past the node's 5 s signer read timeout; reads work; unsealed: blocks.
	chain.waitHeight(90, 120*time.Second)
	srv.Seal()
	signer.waitLog("Vault is sealed", 30*time.Second)
	chain.observeNoProgress(7 * time.Second)
	mustCLI("query", "get", "chain/k")
	srv.Unseal()
	chain.waitHeight(115, 120*time.Second)
	final, lines := v.checkAndStop(chain, signer, node)
	t.Logf("%d heights in %s through the Vault signer (3 kill -9 restarts, Vault sealed 7 s+); journal: %d signatures, no HRS signed twice with different bytes; %d commits verified",
		final, time.Since(start).Round(time.Second), lines, final-1)
}

// TestVaultSignerLongSeal: Vault sealed for (at least) twice the signer's
// --vault-wait, then unsealed: the single-validator chain commits again
// within 10 s, with no restart of the node or the signer, and nothing is
// double-signed. With --vault-wait 0 the signer hands every request back at
// once, so a 10 s seal takes the node past CometBFT's 50 re-asks: it keeps
// asking, since the chain cannot move without this validator.
func TestVaultSignerLongSeal(t *testing.T) {
	for _, c := range []struct {
		name               string
		vaultWait, sealFor time.Duration
	}{
		{"twice the wait", 3 * time.Second, 6 * time.Second},
		{"past the node's re-ask budget", 0, 10 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) { longSeal(t, c.vaultWait, c.sealFor) })
	}
}

func longSeal(t *testing.T, vaultWait, sealFor time.Duration) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	v := newVaultValidator(t, srv)
	signer := v.startSigner("--vault-wait", vaultWait.String())
	node := v.startNode()
	logs := func() string { return fmt.Sprintf("node:\n%s\nsigner:\n%s", node.logs, signer.logs) }
	chain := watchHeights(t, v.rpc, 90*time.Second, logs)
	chain.waitHeight(5, 90*time.Second)

	srv.Seal()
	sealed := time.Now()
	signer.waitLog("Vault is sealed", 30*time.Second)
	if rest := sealFor - time.Since(sealed); rest > 0 {
		chain.observeNoProgress(rest)
	}
	stalled := chain.status()
	srv.Unseal()
	unsealed := time.Now()
	sealedFor := unsealed.Sub(sealed)
	chain.waitHeight(stalled+1, 10*time.Second)
	recovered := time.Since(unsealed)
	chain.waitHeight(stalled+5, 30*time.Second)
	// The seal outlasted the wait: a request went back to the node, which
	// asked again.
	if !strings.Contains(signer.logs.String(), "handing the request back") {
		t.Fatalf("the signer's --vault-wait never ran out:\n%s", signer.logs)
	}
	if vaultWait == 0 && !strings.Contains(node.logs.String(), "until_it_answers=true") {
		t.Fatalf("the node did not keep asking past CometBFT's budget:\n%s", node.logs)
	}
	// Nothing was restarted: both processes still run, each started once.
	for name, p := range map[string]*proc{"node": node, "signer": signer} {
		if p.cmd.ProcessState != nil {
			t.Fatalf("the %s exited: %s\n%s", name, p.cmd.ProcessState, logs())
		}
	}
	if n := strings.Count(signer.logs.String(), "dstt signer: validator"); n != 1 {
		t.Fatalf("the signer started %d times", n)
	}
	final, lines := v.checkAndStop(chain, signer, node)
	t.Logf("Vault sealed %s (--vault-wait %s); first commit %s after the unseal (height %d -> %d); journal %d signatures, no HRS signed twice, %d commits verified, no evidence",
		sealedFor.Round(100*time.Millisecond), vaultWait, recovered.Round(10*time.Millisecond), stalled, stalled+1, lines, final-1)
}

// TestVaultSignerInitPolicy: `dstt signer init` with a token holding only
// the validator policy of docs/KEYS.md: before the key exists it fails
// saying how to create it, with --create-key it is denied, and neither
// leaves anything behind; once the operator created the key (KEYS.md's
// set-up) it works. `dstt init --validator-pubkey vault:NAME` puts that
// key into genesis, and `dstt signer peer-id` prints the ids noise://
// addresses name.
func TestVaultSignerInitPolicy(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	bin, home := dsttBinary(t), t.TempDir()
	srv.PutPolicy(vaultValidatorKey, keysDocValidatorPolicy(t))
	env := srv.Env(srv.Token(vaultValidatorKey))
	signerDir := filepath.Join(home, "signer")
	nothingLeft := func(step string) {
		t.Helper()
		if _, err := os.Stat(signerDir); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s left %s behind (%v)", step, signerDir, err)
		}
	}
	_, errs, code := vcli(t, bin, home, env, "signer", "init", "--key", vaultValidatorKey)
	if code != 1 || !strings.Contains(errs, "not found") || !strings.Contains(errs, "vault write -f transit/keys/"+vaultValidatorKey+" type=ed25519") {
		t.Fatalf("init before the key exists: exit %d %q", code, errs)
	}
	nothingLeft("init before the key exists")
	_, errs, code = vcli(t, bin, home, env, "signer", "init", "--key", vaultValidatorKey, "--create-key")
	if code != 1 || !strings.Contains(errs, "Vault denied") || !strings.Contains(errs, "needs create on transit/keys/"+vaultValidatorKey) {
		t.Fatalf("init --create-key with the validator policy: exit %d %q", code, errs)
	}
	nothingLeft("init --create-key, denied")

	k, err := srv.Vault("").CreateKey(context.Background(), vaultValidatorKey, vault.TransitKeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.PubKey(k.SigningVersion())
	out, errs, code := vcliJSON(t, bin, home, env, "signer", "init", "--key", vaultValidatorKey)
	if code != 0 || out["pub_key_hex"] != hex.EncodeToString(pub) || out["signer_peer_id"] == "" {
		t.Fatalf("init with the doc's policy: exit %d %v %s", code, out, errs)
	}
	for _, f := range []string{"priv_validator_state.json", "signer_identity_key.json"} {
		if _, err := os.Stat(filepath.Join(signerDir, f)); err != nil {
			t.Fatal(err)
		}
	}

	// The genesis validator from Vault; bad values refused, nothing written.
	laddr := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	for _, bad := range [][]string{
		{"--validator-pubkey", "vault:" + vaultValidatorKey},                                       // no --priv-validator-laddr
		{"--validator-pubkey", "not base64!", "--priv-validator-laddr", laddr},                     // not a key
		{"--validator-pubkey", "AAAA", "--priv-validator-laddr", laddr},                            // 3 bytes
		{"--validator-pubkey", "vault:no-such-key", "--priv-validator-laddr", laddr},               // not in Vault
		{"--validator-pubkey", "vault:" + vaultValidatorKey, "--priv-validator-laddr", "http://x"}, // bad address
	} {
		if _, errs, code := vcli(t, bin, home, env, append([]string{"init"}, bad...)...); code != 1 || consensus.IsInitialised(home) {
			t.Fatalf("init %v: exit %d %q", bad, code, errs)
		}
	}
	if _, errs, code := vcli(t, bin, home, env, "init", "--validator-pubkey", "vault:"+vaultValidatorKey, "--priv-validator-laddr", laddr); code != 0 {
		t.Fatalf("init --validator-pubkey vault:%s: %s", vaultValidatorKey, errs)
	}
	h, err := consensus.OpenHome(home)
	if err != nil {
		t.Fatal(err)
	}
	gen, err := h.Genesis()
	if err != nil || len(gen.Validators) != 1 || !bytes.Equal(gen.Validators[0].PubKey.Bytes(), pub) {
		t.Fatalf("genesis validators %+v (%v), want the Vault key", gen.Validators, err)
	}
	if c, err := h.Config(); err != nil || c.PrivValidatorListenAddr != laddr {
		t.Fatalf("priv_validator_laddr %q (%v)", c.PrivValidatorListenAddr, err)
	}

	// The ids a noise:// address names.
	nodePeer, err := h.LibP2PID()
	if err != nil {
		t.Fatal(err)
	}
	ids, errs, code := vcliJSON(t, bin, home, vaulttest.CleanEnv(), "signer", "peer-id")
	if code != 0 || ids["node_peer_id"] != nodePeer || ids["signer_peer_id"] != out["signer_peer_id"] {
		t.Fatalf("signer peer-id: exit %d %v %s (node %s, signer %v)", code, ids, errs, nodePeer, out["signer_peer_id"])
	}
	if text, _, _ := vcli(t, bin, home, vaulttest.CleanEnv(), "signer", "peer-id"); !strings.Contains(text, "noise://"+nodePeer+"@") {
		t.Fatalf("signer peer-id: %q", text)
	}
	if _, errs, code := vcli(t, bin, t.TempDir(), vaulttest.CleanEnv(), "signer", "peer-id"); code != 1 || !strings.Contains(errs, "neither") {
		t.Fatalf("signer peer-id on an empty home: exit %d %q", code, errs)
	}
}
