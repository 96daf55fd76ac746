package security

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// ErrNoCertificates: a CA file holds no PEM certificate.
var ErrNoCertificates = errors.New("security: no PEM certificates in the CA file")

// LoadCertPool reads a PEM bundle of CA certificates (a TLS server's
// client CA, a client's server CA).
func LoadCertPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: %s", ErrNoCertificates, file)
	}
	return pool, nil
}
