// Package rsyslogtest runs a real rsyslogd for tests: plain TCP, TLS with
// server authentication (GnuTLS driver) and mutual TLS (OpenSSL driver)
// inputs on free 127.0.0.1 ports, each writing the raw messages it
// receives, one per line, to its own file. Certificates come from
// testnet/testca. Tests skip, loudly, only when rsyslogd is missing
// (`make test-deps` installs it).
//
// It owns only the test receiver's process, config and files in the test's
// temp dir, and it never runs outside a test: a node's audit sinks never
// import it.
package rsyslogtest
