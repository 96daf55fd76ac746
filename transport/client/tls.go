package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/dstt/dstt/security"
)

// TLSFiles names the PEM files of a TLS client: the CA that signed the
// node's certificate (empty: the system's roots) and a client certificate
// with its key (both or neither) for gateways that ask for one.
type TLSFiles struct {
	CA, Cert, Key string
}

// Empty reports whether no file is named.
func (f TLSFiles) Empty() bool { return f.CA == "" && f.Cert == "" && f.Key == "" }

// Config loads the files into a TLS client config (TLS 1.3, as the
// gateway serves).
func (f TLSFiles) Config() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS13}
	if f.CA != "" {
		pool, err := security.LoadCertPool(f.CA)
		if err != nil {
			return nil, fmt.Errorf("client: TLS CA: %w", err)
		}
		tc.RootCAs = pool
	}
	if (f.Cert == "") != (f.Key == "") {
		return nil, fmt.Errorf("client: TLS client certificate %q and key %q: give both or neither", f.Cert, f.Key)
	}
	if f.Cert != "" {
		pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, fmt.Errorf("client: TLS client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

// tlsFailure says whether err is a failed TLS handshake, and what to check.
func tlsFailure(err error) (string, bool) {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		record    tls.RecordHeaderError
		alert     tls.AlertError
		op        *net.OpError
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &verify):
		return "the node's certificate does not verify: give its CA with --ca", true
	case errors.As(err, &hostname):
		return "the node's certificate is not for this host name or IP", true
	case errors.As(err, &invalid):
		return "the node's certificate is invalid (expired, or not for a server)", true
	case errors.As(err, &record):
		return "the node does not speak TLS there: use http://", true
	case errors.As(err, &alert), errors.As(err, &op) && op.Op == "remote error":
		return "the node refused the handshake: if it requires a client certificate, give one with --cert and --key", true
	case strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"): // net/http's only signal
		return "the node serves plain HTTP there: use http://", true
	}
	return "", false
}
