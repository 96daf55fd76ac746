package testnet_test

import (
	"errors"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/dstt/dstt/testnet"
)

// The default ports lie outside the host's ephemeral range, where no
// outgoing connection can take one; on a host whose range covers 26700
// the default moves below (or above) it.
func TestDefaultBasePortOutsideEphemeralRange(t *testing.T) {
	for _, tc := range []struct {
		eph  testnet.PortRange
		want int
	}{
		{testnet.PortRange{Lo: 32768, Hi: 60999}, 26700},             // Linux's default
		{testnet.PortRange{Lo: 49152, Hi: 65535}, 26700},             // IANA's
		{testnet.PortRange{Lo: 20000, Hi: 60999}, 19500},             // covers 26700: below it
		{testnet.PortRange{Lo: 10000, Hi: 40000}, 9500},              //
		{testnet.PortRange{Lo: 1024, Hi: 30000}, 30100},              // no room below: above it
		{testnet.PortRange{Lo: 1024, Hi: 65535}, 26700},              // no room anywhere
		{testnet.PortRange{Lo: 27000, Hi: 27000}, 26500},             // a one-port range
		{testnet.PortRange{Lo: 26700 + 499, Hi: 26700 + 499}, 26600}, // the last port of 50 nodes
	} {
		got := testnet.DefaultBasePortFor(tc.eph)
		if got != tc.want {
			t.Errorf("DefaultBasePortFor(%s) = %d, want %d", tc.eph, got, tc.want)
		}
		if last := got + testnet.PortsPerNode*testnet.MaxValidators - 1; got != testnet.DefaultBasePort && got <= tc.eph.Hi && last >= tc.eph.Lo {
			t.Errorf("DefaultBasePortFor(%s) = %d: ports up to %d overlap it", tc.eph, got, last)
		}
	}
	// This host: Generate's default (no --base-port) and every port of 50
	// nodes lie outside its range.
	eph, ok := testnet.EphemeralRange()
	if !ok {
		t.Skip("no /proc/sys/net/ipv4/ip_local_port_range on this host")
	}
	nw := generate(t, testnet.Options{})
	last := nw.BasePort + testnet.PortsPerNode*testnet.MaxValidators - 1
	if nw.BasePort != testnet.DefaultBasePortFor(eph) || (nw.BasePort <= eph.Hi && last >= eph.Lo) {
		t.Errorf("default base port %d (ports up to %d), ephemeral range %s", nw.BasePort, last, eph)
	}
	if w := testnet.PortWarning(nw.BasePort, len(nw.Nodes)); w != "" {
		t.Errorf("warning for the default ports: %s", w)
	}
	if w := testnet.PortWarning(eph.Lo, 4); !strings.Contains(w, "ephemeral port range "+eph.String()) {
		t.Errorf("no warning for ports in the ephemeral range: %q", w)
	}
}

// A port whose last connection a server closed (its TIME-WAIT is the
// server's) is free for a node, which listens with SO_REUSEADDR: the check
// binds as the node does. A port that only an outgoing connection's
// TIME-WAIT holds cannot be bound, by the node either: the check says so,
// and why, rather than blaming a running testnet.
func TestPortCheckAndTimeWait(t *testing.T) {
	// Server-side TIME-WAIT on the RPC port: a server there accepted a
	// connection and closed it first, then stopped. (Another test process
	// may take the free block first: then take another.)
	var base int
	var rpcAddr string
	var l net.Listener
	var err error
	for attempt := 0; ; attempt++ {
		base = freeBase(t)
		rpcAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(base+1))
		if l, err = net.Listen("tcp", rpcAddr); err == nil {
			break
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 9 {
			t.Fatal(err)
		}
	}
	go func() {
		c, err := l.Accept()
		if err == nil {
			c.Close()
		}
	}()
	c, err := net.Dial("tcp", rpcAddr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(c) // the server's FIN
	c.Close()
	l.Close()
	if _, err := testnet.Generate(testnet.Options{Dir: filepath.Join(t.TempDir(), "net"), Validators: 1, BasePort: base}); err != nil {
		t.Fatalf("Generate with the server's TIME-WAIT on the RPC port: %v", err)
	}

	// Client-side TIME-WAIT on the REST port of another range: an outgoing
	// connection from that port, closed by the client first.
	srv, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := srv.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	// Another test process may take the free block between freeBase and
	// the dial: then take another block.
	var restPort int
	var out net.Conn
	for attempt := 0; ; attempt++ {
		base = freeBase(t)
		restPort = base + 3
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: restPort}}
		out, err = d.Dial("tcp", srv.Addr().String())
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EADDRINUSE) || attempt == 9 {
			t.Fatal(err)
		}
	}
	out.Close() // the client closes first: its side goes to TIME-WAIT
	in := <-accepted
	_, _ = io.ReadAll(in)
	in.Close()
	_, err = testnet.Generate(testnet.Options{Dir: filepath.Join(t.TempDir(), "net"), Validators: 1, BasePort: base})
	if !errors.Is(err, testnet.ErrPortInUse) || !strings.Contains(err.Error(), "tcp/"+strconv.Itoa(restPort)+" (held only by a closed connection lingering in TIME-WAIT") ||
		strings.Contains(err.Error(), "is a testnet running") {
		t.Fatalf("Generate with an outgoing connection's TIME-WAIT on the REST port: %v", err)
	}
	t.Log(err)

	// A listener is named as one.
	base = freeBase(t)
	busy, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base)))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	_, err = testnet.Generate(testnet.Options{Dir: filepath.Join(t.TempDir(), "net"), Validators: 1, BasePort: base})
	if !errors.Is(err, testnet.ErrPortInUse) || !strings.Contains(err.Error(), "tcp/"+strconv.Itoa(base)+" (a process listens on it)") {
		t.Fatalf("Generate with a listener on the P2P port: %v", err)
	}
}
