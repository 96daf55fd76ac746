// Package testca is the one test certificate authority: a fresh P-256 CA
// and the server (127.0.0.1, localhost) and client leaf certificates it
// signs, as PEM, for tests that run real TLS endpoints (the REST gateway,
// rsyslog receivers). It owns nothing a node ships; keys live only in the
// test's memory and the files the test writes.
package testca
