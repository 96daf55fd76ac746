package rest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/testnet/testca"
	"github.com/dstt/dstt/transport/api"
)

// TLS 1.3 only; a required client certificate is enforced and becomes the
// client's identity (rate limits, the read authorizer).
func TestTLSWithClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := testca.New(t)
	scert, skey := ca.Issue(t, "gateway", true)
	ccert, ckey := ca.Issue(t, "alice", false)
	cfg := DefaultConfig()
	cfg.ListenAddress = "127.0.0.1:0"
	cfg.MetricsListenAddress = "127.0.0.1:0" // never the fixed default: another node may hold it
	cfg.TLS = TLSConfig{
		CertFile: testca.WriteFile(t, dir, "server.pem", scert), KeyFile: testca.WriteFile(t, dir, "server.key", skey),
		ClientCAFile: testca.WriteFile(t, dir, "ca.pem", ca.PEM), ClientAuth: ClientAuthRequire,
	}
	seen := make(chan Identity, 1)
	failures := make(chan string, 10)
	g, err := New(&memBackend{}, cfg, Options{OnAuthFailure: func(_ Identity, reason string) { failures <- reason }, Authorizer: ReadAuthorizerFunc(func(_ *http.Request, who Identity, req ReadRequest) error {
		seen <- who
		if req.Key == "forbidden" {
			return ErrForbidden
		}
		return nil
	})})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	if !strings.HasPrefix(g.URL(), "https://") {
		t.Fatalf("URL %s", g.URL())
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca.PEM)
	pair, err := tls.X509KeyPair(ccert, ckey)
	if err != nil {
		t.Fatal(err)
	}
	get := func(tc *tls.Config, path string) (*http.Response, error) {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
		return hc.Get(g.URL() + path)
	}
	resp, err := get(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}, "/v1/kv/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("not TLS 1.3: %+v", resp.TLS)
	}
	who := <-seen
	if !strings.HasPrefix(who.ID, "cert:") || who.Certificate == nil || who.Certificate.Subject.CommonName != "alice" {
		t.Fatalf("identity %+v", who)
	}
	resp, err = get(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}}, "/v1/kv/forbidden")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-seen
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("authorizer's denial: %d", resp.StatusCode)
	}
	// Without a client certificate, health probes are answered and
	// everything else is refused with CLIENT_CERT_REQUIRED.
	for _, probe := range []string{"/healthz", "/readyz"} {
		resp, err := get(&tls.Config{RootCAs: roots}, probe)
		if err != nil {
			t.Fatalf("%s without a client certificate: %v", probe, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && !(probe == "/readyz" && resp.StatusCode == http.StatusServiceUnavailable) {
			t.Fatalf("%s without a client certificate: %d", probe, resp.StatusCode)
		}
	}
	resp, err = get(&tls.Config{RootCAs: roots}, "/v1/kv/x")
	if err != nil {
		t.Fatal(err)
	}
	var prob api.Problem
	_ = json.NewDecoder(resp.Body).Decode(&prob)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || prob.Code != api.ProblemCertRequired {
		t.Fatalf("a read without a client certificate: %d %+v", resp.StatusCode, prob)
	}
	// A certificate from another CA fails the handshake, on any route.
	other := testca.New(t)
	ocert, okey := other.Issue(t, "mallory", false)
	opair, err := tls.X509KeyPair(ocert, okey)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := get(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{opair}}, "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("served a client whose certificate does not verify: %d", resp.StatusCode)
	}
	// TLS 1.2 is refused.
	if resp, err := get(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MaxVersion: tls.VersionTLS12}, "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("served TLS 1.2")
	}
	// The denial, the missing certificate and the two failed handshakes
	// were reported.
	for _, want := range []string{"refused", "no client certificate", "TLS handshake", "TLS handshake"} {
		select {
		case got := <-failures:
			if !strings.Contains(got, want) {
				t.Errorf("auth failure %q, want %q", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("auth failure %q not reported", want)
		}
	}
}
