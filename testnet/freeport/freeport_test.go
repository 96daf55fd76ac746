package freeport

import (
	"net"
	"strconv"
	"testing"
)

// Single ports come from their band below the ephemeral range, are never
// handed out twice in one process, and can be bound.
func TestPortsBelowEphemeralRangeAndNeverRepeated(t *testing.T) {
	seen := map[int]bool{}
	for range 200 {
		for _, p := range Ports(t, 3) {
			if p < portLo || p >= portHi {
				t.Fatalf("port %d outside %d-%d", p, portLo, portHi)
			}
			if seen[p] {
				t.Fatalf("port %d handed out twice", p)
			}
			seen[p] = true
		}
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(Port(t))))
	if err != nil {
		t.Fatalf("a picked port cannot be bound: %v", err)
	}
	l.Close()
}

// A port another listener holds is never picked.
func TestPortSkipsBusyPorts(t *testing.T) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	busy := map[int]bool{}
	for p := portLo; p < portLo+2000; p++ {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		held, busy[p] = append(held, l), true
	}
	for range 500 {
		if p := Port(t); busy[p] {
			t.Fatalf("picked port %d, which a listener holds", p)
		}
	}
}

// Ranges come from their own band, start at a multiple of 100, and are free.
func TestRange(t *testing.T) {
	for range 20 {
		base := Range(t, 40)
		if base < rangeLo || base+40 > rangeHi || base%100 != 0 {
			t.Fatalf("range %d+40 outside %d-%d or not a multiple of 100", base, rangeLo, rangeHi)
		}
		if !rangeFree(base, 40) {
			t.Fatalf("range %d+40 is not free", base)
		}
	}
}
