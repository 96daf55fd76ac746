package freeport

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
)

// The bands ports come from. Both lie below Linux's usual ephemeral range
// (32768 and up), from which the kernel picks the local port of every
// outgoing connection and of every listener on port 0: a port picked there
// and closed is often taken by the next connection any test on the host
// makes, before the process it was picked for binds it. Single ports and
// ranges come from separate bands, so that a single port never lands inside
// a range a testnet is about to bind.
const (
	portLo, portHi   = 10000, 20000 // Port and Ports
	rangeLo, rangeHi = 20000, 32768 // Range
)

// given holds every port this process handed out: a port picked twice in one
// process would pass the "free" check until the first caller binds it.
var given = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// Port returns a 127.0.0.1 port, free a moment ago for TCP and for UDP, that
// this process has not handed out before.
func Port(t testing.TB) int {
	t.Helper()
	return Ports(t, 1)[0]
}

// Ports returns n distinct 127.0.0.1 ports, each as Port returns.
func Ports(t testing.TB, n int) []int {
	t.Helper()
	given.Lock()
	defer given.Unlock()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries == 1000 {
			t.Fatalf("no %d free ports in %d-%d", n, portLo, portHi)
		}
		p := portLo + rand.IntN(portHi-portLo)
		if given.ports[p] || !rangeFree(p, 1) {
			continue
		}
		given.ports[p] = true
		ports = append(ports, p)
	}
	return ports
}

// Range returns the first of n consecutive 127.0.0.1 ports, each free a
// moment ago for TCP and for UDP. It is for processes given a base port (a
// testnet's nodes), not one port each; the first is a multiple of 100, as a
// testnet's default base port is, so that a port's last two digits say which
// of the range it is.
func Range(t testing.TB, n int) int {
	t.Helper()
	given.Lock()
	defer given.Unlock()
	for range 100 {
		base := rangeLo + 100*rand.IntN((rangeHi-rangeLo-n)/100)
		if given.ports[base] || !rangeFree(base, n) {
			continue
		}
		given.ports[base] = true
		return base
	}
	t.Fatalf("no %d consecutive free ports in %d-%d", n, rangeLo, rangeHi)
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
