package freeport

import (
	"net"
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
