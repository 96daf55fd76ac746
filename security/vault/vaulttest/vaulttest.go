package vaulttest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/dstt/dstt/security/vault"
	"github.com/dstt/dstt/testnet/freeport"
)

// VaultVersion is the Vault release `make test-deps` builds.
const VaultVersion = "1.21.0"

// RootToken is the dev server's root token.
const RootToken = "root"

// Env names.
const (
	EnvBin     = "DSTT_VAULT_BIN"
	EnvRequire = "DSTT_REQUIRE_VAULT"
)

// CachedBinary is where `make test-deps` puts the Vault binary.
func CachedBinary() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".cache", "dstt", "vault-"+VaultVersion, "vault")
}

// Binary finds a vault binary (see the package doc).
func Binary() (string, bool) {
	if p := os.Getenv(EnvBin); p != "" {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
		return p, false
	}
	if p := CachedBinary(); p != "" {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return p, true
		}
	}
	if p, err := exec.LookPath("vault"); err == nil {
		return p, true
	}
	return "", false
}

// RequireBinary returns the vault binary or skips (fails, under
// $DSTT_REQUIRE_VAULT) with a loud message.
func RequireBinary(t testing.TB) string {
	t.Helper()
	bin, ok := Binary()
	if ok {
		return bin
	}
	bar := strings.Repeat("!", 78)
	msg := fmt.Sprintf("\n%s\n!!! NO VAULT BINARY: this test needs a real HashiCorp Vault server.\n"+
		"!!! Looked at $%s (%q), %s and $PATH.\n"+
		"!!! Build it once with `make test-deps` (Vault %s from source, ~15 min cold).\n%s",
		bar, EnvBin, os.Getenv(EnvBin), CachedBinary(), VaultVersion, bar)
	if os.Getenv(EnvRequire) != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Options configure Start.
type Options struct {
	// TLS starts the server with -dev-tls; Server.CACert is its CA.
	TLS bool
}

// Server is a running `vault server -dev`.
type Server struct {
	// Addr is the API address, http(s)://127.0.0.1:PORT.
	Addr string
	// CACert is the CA file of a TLS server ("" without TLS).
	CACert string
	// UnsealKey unseals the server after Seal.
	UnsealKey string

	t    testing.TB
	cmd  *exec.Cmd
	logs *syncBuffer
	root *vaultapi.Client
}

// Start starts a dev server, waits until it is unsealed and mounts transit
// at "transit". The server is killed when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := RequireBinary(t)
	port := freeport.Port(t)
	listen := fmt.Sprintf("127.0.0.1:%d", port)
	args := []string{"server", "-dev", "-dev-root-token-id=" + RootToken, "-dev-listen-address=" + listen, "-dev-no-store-token", "-log-level=warn"}
	s := &Server{t: t, logs: &syncBuffer{}, Addr: "http://" + listen}
	if opts.TLS {
		dir := t.TempDir()
		args = append(args, "-dev-tls", "-dev-tls-cert-dir="+dir)
		s.Addr = "https://" + listen
		s.CACert = filepath.Join(dir, "vault-ca.pem")
	}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = append(CleanEnv(), "HOME="+t.TempDir(), "VAULT_DISABLE_MLOCK=true")
	pr, pw := io.Pipe()
	s.cmd.Stdout = pw
	s.cmd.Stderr = s.logs
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("vaulttest: start %s: %v", bin, err)
	}
	unseal := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`Unseal Key: (\S+)`)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			s.logs.WriteString(line + "\n")
			if m := re.FindStringSubmatch(line); m != nil {
				unseal <- m[1]
			}
		}
	}()
	t.Cleanup(func() {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		_ = pw.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	select {
	case s.UnsealKey = <-unseal:
	case <-time.After(time.Until(deadline)):
		t.Fatalf("vaulttest: no unseal key from the dev server within 60s; output:\n%s", s.logs)
	}
	s.root = s.APIClient(RootToken)
	for {
		h, err := s.root.Sys().Health()
		if err == nil && !h.Sealed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("vaulttest: dev server not healthy within 60s (%v); output:\n%s", err, s.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := s.root.Sys().Mount("transit", &vaultapi.MountInput{Type: "transit"}); err != nil {
		t.Fatalf("vaulttest: mount transit: %v", err)
	}
	return s
}

// CleanEnv is the caller's environment without its VAULT_* variables: a
// child process given it reaches only the Vault the test names.
func CleanEnv() []string {
	var out []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "VAULT_") {
			out = append(out, e)
		}
	}
	return out
}

// Logs is the server's output so far.
func (s *Server) Logs() string { return s.logs.String() }

// Config is a Config for this server with token.
func (s *Server) Config(token string) vault.Config {
	c := vault.DefaultConfig()
	c.Address, c.CACert, c.Token = s.Addr, s.CACert, token
	c.Timeout = 5 * time.Second
	c.MaxRetries = 0
	return c
}

// Env is the environment a dstt process needs to use this server with
// token (VAULT_ADDR, VAULT_TOKEN, VAULT_CACERT); other VAULT_* variables of
// the test process are dropped.
func (s *Server) Env(token string) []string {
	env := append(CleanEnv(), "VAULT_ADDR="+s.Addr, "VAULT_TOKEN="+token)
	if s.CACert != "" {
		env = append(env, "VAULT_CACERT="+s.CACert)
	}
	return env
}

// APIClient is a raw Vault API client with token.
func (s *Server) APIClient(token string) *vaultapi.Client {
	s.t.Helper()
	c := vaultapi.DefaultConfig()
	c.Address = s.Addr
	c.MaxRetries = 0
	if s.CACert != "" {
		if err := c.ConfigureTLS(&vaultapi.TLSConfig{CACert: s.CACert}); err != nil {
			s.t.Fatal(err)
		}
	}
	cl, err := vaultapi.NewClient(c)
	if err != nil {
		s.t.Fatal(err)
	}
	cl.SetToken(token)
	cl.ClearNamespace()
	return cl
}

// Vault is a vault.Client with token (the root token if empty).
func (s *Server) Vault(token string) *vault.Client {
	s.t.Helper()
	if token == "" {
		token = RootToken
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	v, err := vault.New(ctx, s.Config(token), nil)
	if err != nil {
		s.t.Fatalf("vaulttest: connect: %v", err)
	}
	s.t.Cleanup(func() { _ = v.Close() })
	return v
}

// PutPolicy writes an ACL policy (HCL).
func (s *Server) PutPolicy(name, hcl string) {
	s.t.Helper()
	if err := s.root.Sys().PutPolicy(name, hcl); err != nil {
		s.t.Fatalf("vaulttest: policy %s: %v", name, err)
	}
}

// Token creates a token with the policies (and no default root rights).
func (s *Server) Token(policies ...string) string {
	s.t.Helper()
	sec, err := s.root.Auth().Token().Create(&vaultapi.TokenCreateRequest{Policies: policies, TTL: "1h", NoParent: true})
	if err != nil || sec == nil || sec.Auth == nil {
		s.t.Fatalf("vaulttest: token: %v", err)
	}
	return sec.Auth.ClientToken
}

// AppRole enables approle (once) and creates role with the policies and
// token TTLs; it returns the role id and a fresh secret id.
func (s *Server) AppRole(role string, policies []string, ttl, maxTTL time.Duration) (roleID, secretID string) {
	s.t.Helper()
	auths, err := s.root.Sys().ListAuth()
	if err != nil {
		s.t.Fatal(err)
	}
	if _, ok := auths["approle/"]; !ok {
		if err := s.root.Sys().EnableAuthWithOptions("approle", &vaultapi.EnableAuthOptions{Type: "approle"}); err != nil {
			s.t.Fatalf("vaulttest: enable approle: %v", err)
		}
	}
	if _, err := s.root.Logical().Write("auth/approle/role/"+role, map[string]any{
		"token_policies": strings.Join(policies, ","),
		"token_ttl":      fmt.Sprintf("%ds", int(ttl.Seconds())),
		"token_max_ttl":  fmt.Sprintf("%ds", int(maxTTL.Seconds())),
	}); err != nil {
		s.t.Fatalf("vaulttest: role %s: %v", role, err)
	}
	r, err := s.root.Logical().Read("auth/approle/role/" + role + "/role-id")
	if err != nil || r == nil {
		s.t.Fatalf("vaulttest: role id: %v", err)
	}
	sid, err := s.root.Logical().Write("auth/approle/role/"+role+"/secret-id", nil)
	if err != nil || sid == nil {
		s.t.Fatalf("vaulttest: secret id: %v", err)
	}
	return r.Data["role_id"].(string), sid.Data["secret_id"].(string)
}

// Seal seals the server.
func (s *Server) Seal() {
	s.t.Helper()
	if err := s.root.Sys().Seal(); err != nil {
		s.t.Fatalf("vaulttest: seal: %v", err)
	}
}

// Unseal unseals the server with its unseal key and waits until it serves.
func (s *Server) Unseal() {
	s.t.Helper()
	st, err := s.root.Sys().Unseal(s.UnsealKey)
	if err != nil || st.Sealed {
		s.t.Fatalf("vaulttest: unseal: %v (sealed %v)", err, st != nil && st.Sealed)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := s.root.Sys().Health()
		if err == nil && !h.Sealed && !h.Standby {
			// transit answers once the mount table is loaded again
			if _, err := s.root.Logical().List("transit/keys"); err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("vaulttest: not serving after unseal: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL): Vault down.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// Healthy reports whether the server answers its health endpoint unsealed.
func (s *Server) Healthy() bool {
	resp, err := http.Get(strings.Replace(s.Addr, "https://", "http://", 1) + "/v1/sys/health")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) WriteString(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b.WriteString(s)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
