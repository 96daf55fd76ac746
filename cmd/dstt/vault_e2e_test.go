package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/security/vault"
	"github.com/dstt/dstt/security/vault/vaulttest"
	"github.com/dstt/dstt/transport/client/cometrpc"
	"github.com/dstt/dstt/types"
)

// These tests run real processes against a real Vault dev server
// (security/vaulttest): the dstt CLI with --keyring-backend vault, envelope
// encryption, key rotation, and a validator that signs through `dstt
// signer` with its consensus key in Vault.

// vcli runs the dstt CLI on home with env; it returns stdout, stderr and
// the exit code.
func vcli(t *testing.T, bin, home string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"--home", home}, args...)...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

func vcliJSON(t *testing.T, bin, home string, env []string, args ...string) (map[string]any, string, int) {
	t.Helper()
	out, errs, code := vcli(t, bin, home, env, append(args, "-o", "json")...)
	var v map[string]any
	if out != "" {
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Fatalf("dstt %v: output is not JSON (%v): %q, stderr %q", args, err, out, errs)
		}
	}
	return v, errs, code
}

// TestVaultClientE2E covers acceptance 1, 2 and 4 for clients: a tx signed
// by a Vault transit key is committed; key rotation (as far as the engine
// supports it); envelope encryption with Vault's policies deciding who
// reads; Vault wrong-token/sealed/down errors while the node serves reads.
func TestVaultClientE2E(t *testing.T) {
	srv := vaulttest.Start(t, vaulttest.Options{})
	n := newDevNode(t)
	n.start()
	root := srv.Env(vaulttest.RootToken)
	run := func(env []string, args ...string) (map[string]any, string, int) {
		t.Helper()
		return vcliJSON(t, n.bin, n.home, env, args...)
	}
	mustRun := func(env []string, args ...string) map[string]any {
		t.Helper()
		v, errs, code := run(env, args...)
		if code != 0 {
			t.Fatalf("dstt %v: exit %d: %v %s", args, code, v, errs)
		}
		return v
	}

	// A client key in Vault; the dev admin lets it write.
	alice := mustRun(root, "keys", "add", "alice", "--keyring-backend", "vault")
	aliceAddr := alice["address"].(string)
	if alice["backend"] != "vault" {
		t.Fatalf("keys add: %v", alice)
	}
	mustRun(root, "rbac", "grant", "admin", "--to", aliceAddr, "--domain", "*")
	list := mustRun(root, "keys", "show", "alice", "--keyring-backend", "vault")
	if list["address"] != aliceAddr || list["vault"].(map[string]any)["signing_version"].(float64) != 1 {
		t.Fatalf("keys show: %v", list)
	}

	// Acceptance 1: signed in Vault, committed, attributed to the identity.
	put := mustRun(root, "tx", "put", "vault/greeting", "signed in vault", "--from", "alice", "--keyring-backend", "vault")
	st := mustRun(root, "query", "tx", put["hash"].(string))
	if st["code_name"] != "OK" || st["signer"] != aliceAddr {
		t.Fatalf("query tx: %v (want signer %s)", st, aliceAddr)
	}
	// A tx signed now with the current key, broadcast after the rotation.
	stale := mustRun(root, "tx", "put", "vault/stale", "x", "--from", "alice", "--keyring-backend", "vault", "--sign-only")

	t.Run("rotate-vault", func(t *testing.T) {
		v, errs, code := run(root, "keys", "rotate", "alice", "--keyring-backend", "vault")
		if code != 0 && strings.Contains(errs, "INVALID_OP") {
			// The key stays pending in Vault; signing keeps the old version.
			k := mustRun(root, "keys", "show", "alice", "--keyring-backend", "vault")
			if k["key_address"] != aliceAddr {
				t.Fatalf("a refused rotation changed the signing key: %v", k)
			}
			mustRun(root, "tx", "put", "vault/after-refused-rotation", "x", "--from", "alice", "--keyring-backend", "vault")
			t.Fatalf("the node refused the RotateKey tx (nothing changed, but the engine supports rotation): %s", strings.TrimSpace(errs))
		}
		if code != 0 {
			t.Fatalf("keys rotate: exit %d %v %s", code, v, errs)
		}
		newPub := v["new_pub_key"].(string)
		k := mustRun(root, "keys", "show", "alice", "--keyring-backend", "vault")
		if k["pub_key"] != newPub || k["vault"].(map[string]any)["signing_version"].(float64) != 2 {
			t.Fatalf("after rotation: %v", k)
		}
		// "address" stays the identity (what RBAC grants name); the new
		// key's own address is key_address.
		if k["address"] != aliceAddr || k["key_address"] == aliceAddr {
			t.Fatalf("keys show after rotation: address %v key_address %v, want the identity %s as address", k["address"], k["key_address"], aliceAddr)
		}
		// Reads signed by the identity's new key work.
		if g := mustRun(root, "query", "get", "vault/greeting", "--from", "alice", "--keyring-backend", "vault"); g["value"] != "signed in vault" {
			t.Fatalf("signed read after rotation: %v", g)
		}
		// The identity stays: a tx by the new key is attributed to it.
		p := mustRun(root, "tx", "put", "vault/after-rotation", "v2", "--from", "alice", "--keyring-backend", "vault")
		if st := mustRun(root, "query", "tx", p["hash"].(string)); st["signer"] != aliceAddr {
			t.Fatalf("identity changed with the rotation: signer %v, want %s", st["signer"], aliceAddr)
		}
		// The replaced key is refused after the rotation height.
		res, _, code := run(root, "tx", "broadcast", stale["tx"].(string))
		if code != 1 || res["code_name"] != types.CodeKeyRetired.Name() {
			t.Fatalf("tx by the retired key: exit %d %v", code, res)
		}
		// The key history is queryable and names the same identity.
		if v["identity"] != aliceAddr || v["identity_keys"].(float64) != 2 {
			t.Fatalf("rotate output: %v", v)
		}
		c, err := cometrpc.New(n.rpc)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReader(devSigner(t, n.home))
		qctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		id, err := c.Identity(qctx, aliceAddr)
		if err != nil {
			t.Fatal(err)
		}
		if id.Identity != aliceAddr || id.Current != newPub || len(id.Keys) != 2 || id.Keys[0].RetiredAt == 0 || id.Keys[1].PubKey != newPub {
			t.Fatalf("/identity: %+v", id)
		}
		t.Logf("/identity %s: %+v", aliceAddr, id)
		// Nothing pending any more.
		if _, errs, code := run(root, "keys", "rotate", "alice", "--keyring-backend", "vault", "--finish"); code != 1 || !strings.Contains(errs, "no rotation") {
			t.Fatalf("--finish without a pending rotation: %d %s", code, errs)
		}
	})

	t.Run("rotate-file", func(t *testing.T) {
		bob := mustRun(root, "keys", "add", "bob", "--keyring-backend", "test")
		bobAddr := bob["address"].(string)
		mustRun(root, "rbac", "grant", "admin", "--to", bobAddr, "--domain", "*")
		v, errs, code := run(root, "keys", "rotate", "bob", "--keyring-backend", "test")
		if code != 0 && strings.Contains(errs, "INVALID_OP") {
			if _, err := os.Stat(filepath.Join(n.home, "keyring", "test", "bob.next.key")); err != nil {
				t.Fatalf("the pending successor is gone after a refused rotation: %v", err)
			}
			if k := mustRun(root, "keys", "show", "bob", "--keyring-backend", "test"); k["key_address"] != bobAddr {
				t.Fatalf("a refused rotation replaced the key: %v", k)
			}
			t.Fatalf("the node refused the RotateKey tx (bob.next stays pending, but the engine supports rotation): %s", strings.TrimSpace(errs))
		}
		if code != 0 {
			t.Fatalf("keys rotate: exit %d %v %s", code, v, errs)
		}
		if v["old_key_kept_as"] != "bob.old-1" {
			t.Fatalf("rotate: %v", v)
		}
		old := mustRun(root, "keys", "show", "bob.old-1", "--keyring-backend", "test")
		cur := mustRun(root, "keys", "show", "bob", "--keyring-backend", "test")
		if old["address"] != bobAddr || cur["pub_key"] != v["new_pub_key"] {
			t.Fatalf("keys after rotation: old %v new %v", old, cur)
		}
		p := mustRun(root, "tx", "put", "file/after-rotation", "x", "--from", "bob", "--keyring-backend", "test")
		if st := mustRun(root, "query", "tx", p["hash"].(string)); st["signer"] != bobAddr {
			t.Fatalf("identity changed: %v", st)
		}
		if res, _, code := run(root, "tx", "put", "file/old-key", "x", "--from", "bob.old-1", "--keyring-backend", "test"); code != 1 || res["code_name"] != types.CodeKeyRetired.Name() {
			t.Fatalf("old file key after rotation: exit %d %v", code, res)
		}
	})

	// Acceptance 2: envelope encryption; Vault's policies decide who reads.
	mustRun(root, "keys", "add", "dstt-data", "--kek")
	srv.PutPolicy("writer", `path "transit/datakey/plaintext/dstt-data" { capabilities = ["update"] }`)
	srv.PutPolicy("reader", `path "transit/decrypt/dstt-data" { capabilities = ["update"] }`)
	writer, reader, outsider := srv.Env(srv.Token("writer")), srv.Env(srv.Token("reader")), srv.Env(srv.Token("default"))
	secret := "IBAN DE89 3704 0044 0532 0130 00"
	mustRun(writer, "tx", "put", "pii/acct-7", secret, "--encrypt")
	raw := mustRun(outsider, "query", "get", "pii/acct-7")
	if v := raw["value"].(string); strings.Contains(v, secret) || !vault.IsEnvelope([]byte(v)) {
		t.Fatalf("stored value is not an envelope without the plaintext: %q", v)
	}
	if got := mustRun(reader, "query", "get", "pii/acct-7", "--decrypt"); got["value"] != secret {
		t.Fatalf("--decrypt by a reader: %v", got)
	}
	out, errs, code := vcli(t, n.bin, n.home, outsider, "query", "get", "pii/acct-7", "--decrypt")
	if code != 1 || out != "" || !strings.Contains(errs, "does not let this token decrypt") || !strings.Contains(errs, "transit/decrypt/dstt-data") {
		t.Fatalf("--decrypt by an outsider: exit %d out %q err %q", code, out, errs)
	}
	t.Logf("outsider --decrypt: %s", strings.TrimSpace(errs))
	if _, errs, code := run(root, "query", "get", "vault/greeting", "--decrypt"); code != 1 || !strings.Contains(errs, "plain value") {
		t.Fatalf("--decrypt of a plain value: %d %s", code, errs)
	}
	// query history --decrypt opens every encrypted version, like get.
	secret2 := "IBAN FR76 3000 6000 0112 3456 7890 189"
	mustRun(writer, "tx", "put", "pii/acct-7", secret2, "--encrypt")
	h := mustRun(reader, "query", "history", "pii/acct-7", "--decrypt")
	if vs := h["versions"].([]any); len(vs) != 2 || vs[0].(map[string]any)["value"] != secret2 || vs[1].(map[string]any)["value"] != secret {
		t.Fatalf("history --decrypt: %v", h)
	}
	if _, errs, code := run(outsider, "query", "history", "pii/acct-7", "--decrypt"); code != 1 || !strings.Contains(errs, `"code":"VAULT_DENIED"`) {
		t.Fatalf("history --decrypt by an outsider: exit %d %s", code, errs)
	}

	// Acceptance 4: wrong token, sealed, down: clear errors, nothing
	// submitted, the node keeps serving reads.
	bad := srv.Env("hvs.not-a-real-token")
	_, errs, code = run(bad, "tx", "put", "pii/x", "v", "--encrypt")
	if code != 1 || !strings.Contains(errs, "Vault denied") || !strings.Contains(errs, "nothing was submitted") || strings.Contains(errs, "hvs.not-a-real-token") {
		t.Fatalf("wrong token: exit %d %q", code, errs)
	}
	_, errs, code = run(bad, "tx", "put", "vault/x", "v", "--from", "alice", "--keyring-backend", "vault")
	if code != 1 || !strings.Contains(errs, "Vault denied") {
		t.Fatalf("wrong token, vault keyring: exit %d %q", code, errs)
	}
	srv.Seal()
	_, errs, code = run(writer, "tx", "put", "pii/y", "v", "--encrypt")
	if code != 1 || !strings.Contains(errs, "sealed") {
		t.Fatalf("sealed: exit %d %q", code, errs)
	}
	t.Logf("sealed: %s", strings.TrimSpace(errs))
	if got := mustRun(root, "query", "get", "vault/greeting"); got["value"] != "signed in vault" {
		t.Fatalf("read while Vault is sealed: %v", got)
	}
	srv.Unseal()
	srv.Kill()
	_, errs, code = run(root, "tx", "put", "vault/z", "v", "--from", "alice", "--keyring-backend", "vault")
	if code != 1 || !strings.Contains(errs, "Vault unreachable") {
		t.Fatalf("down: exit %d %q", code, errs)
	}
	t.Logf("down: %s", strings.TrimSpace(errs))
	for _, k := range []string{"pii/x", "pii/y", "vault/x", "vault/z"} {
		if _, errs, code := run(root, "query", "get", k); code != 1 || !strings.Contains(errs, "not found") {
			t.Fatalf("%s was written although its tx failed: %d %s", k, code, errs)
		}
	}
	if got := mustRun(root, "query", "get", "pii/acct-7"); got["key"] != "pii/acct-7" {
		t.Fatalf("read while Vault is down: %v", got)
	}
	n.stop()
}

// proc is a background dstt process with its output kept.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs *lockedBuffer
}

type lockedBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on each write (made lazily)
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed != nil {
		close(b.changed)
		b.changed = nil
	}
	return b.b.Write(p)
}

// snapshot is the text so far and a channel closed by the next write.
func (b *lockedBuffer) snapshot() (string, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.changed == nil {
		b.changed = make(chan struct{})
	}
	return b.b.String(), b.changed
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startProc(t *testing.T, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, logs: &lockedBuffer{}}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
		}
	})
	return p
}

func (p *proc) kill() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() }

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		p.kill()
		p.t.Fatalf("process did not stop: %s", p.logs)
	}
}

// editConfig sets keys in config.toml (each key must exist once).
func editConfig(t *testing.T, path string, set map[string]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for k, v := range set {
		re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(k) + ` = .*$`)
		if len(re.FindAllString(s, -1)) != 1 {
			t.Fatalf("config.toml: %s not found once", k)
		}
		s = re.ReplaceAllString(s, k+" = "+v)
	}
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// devKey makes the home's "dev" key in the test keyring (the CLI's default
// signer there).
func devKey(t *testing.T, home string) keyring.KeyInfo {
	t.Helper()
	kr, err := keyring.Open(keyring.BackendTest, keyringDir(home), nil)
	if err != nil {
		t.Fatal(err)
	}
	k, err := kr.Add(devKeyName)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
