package rest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a leaf certificate; it returns cert and key PEM.
func (ca *testCA) issue(t *testing.T, cn string, server bool) ([]byte, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TLS 1.3 only; a required client certificate is enforced and becomes the
// client's identity (rate limits, the read authorizer).
func TestTLSWithClientCertificates(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	scert, skey := ca.issue(t, "gateway", true)
	ccert, ckey := ca.issue(t, "alice", false)
	cfg := DefaultConfig()
	cfg.ListenAddress = "127.0.0.1:0"
	cfg.MetricsListenAddress = "127.0.0.1:0" // never the fixed default: another node may hold it
	cfg.TLS = TLSConfig{
		CertFile: writeFile(t, dir, "server.pem", scert), KeyFile: writeFile(t, dir, "server.key", skey),
		ClientCAFile: writeFile(t, dir, "ca.pem", ca.pem), ClientAuth: ClientAuthRequire,
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
	roots.AppendCertsFromPEM(ca.pem)
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
	// Without a client certificate the handshake fails (TLS 1.3 reports it
	// on the first read).
	if resp, err := get(&tls.Config{RootCAs: roots}, "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatalf("served a client without a certificate: %d", resp.StatusCode)
	}
	// TLS 1.2 is refused.
	if resp, err := get(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}, MaxVersion: tls.VersionTLS12}, "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("served TLS 1.2")
	}
	// The denial and the two failed handshakes were reported.
	for _, want := range []string{"refused", "TLS handshake", "TLS handshake"} {
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
