package freeport

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// Port returns a 127.0.0.1 TCP port that was free a moment ago.
func Port(t testing.TB) int {
	t.Helper()
	return Ports(t, 1)[0]
}

// Ports returns n distinct 127.0.0.1 TCP ports that were free a moment ago.
func Ports(t testing.TB, n int) []int {
	t.Helper()
	ls := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}

// Range returns the first of n consecutive 127.0.0.1 ports, each free a
// moment ago for TCP and for UDP, below Linux's usual ephemeral range
// (32768 and up), so that no outgoing connection takes one meanwhile. It is
// for processes given a base port (a testnet's nodes), not one port each;
// the first is a multiple of 100, as a testnet's default base port is, so
// that a port's last two digits say which of the range it is.
func Range(t testing.TB, n int) int {
	t.Helper()
	const lo, hi = 20000, 32768
	for range 100 {
		base := lo + 100*rand.IntN((hi-lo-n)/100)
		if rangeFree(base, n) {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports in %d-%d", n, lo, hi)
	return 0
}

// rangeFree says whether a listener could bind each of the n ports from
// base, over TCP and over UDP.
func rangeFree(base, n int) bool {
	for p := base; p < base+n; p++ {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return false
		}
		l.Close()
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		c.Close()
	}
	return true
}
