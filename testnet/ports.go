package testnet

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/dstt/dstt/consensus"
)

// PortRange is an inclusive range of ports.
type PortRange struct{ Lo, Hi int }

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.Lo, r.Hi) }

func (r PortRange) overlaps(lo, hi int) bool { return lo <= r.Hi && hi >= r.Lo }

// ephemeralRangeFile is where Linux keeps the range it takes the local ports
// of outgoing connections from.
const ephemeralRangeFile = "/proc/sys/net/ipv4/ip_local_port_range"

// EphemeralRange is the range the kernel takes outgoing connections' local
// ports from (Linux: /proc/sys/net/ipv4/ip_local_port_range, usually
// 32768-60999); ok is false where it cannot be read.
//
// A testnet port inside it can be taken by any outgoing connection of the
// host, and once that connection closes, its TIME-WAIT (60 s) keeps a node
// from listening there: such a client socket blocks the bind even with
// SO_REUSEADDR.
func EphemeralRange() (r PortRange, ok bool) {
	data, err := os.ReadFile(ephemeralRangeFile)
	if err != nil {
		return PortRange{}, false
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return PortRange{}, false
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || lo > hi {
		return PortRange{}, false
	}
	return PortRange{lo, hi}, true
}

// planSpan is how many ports a network can come to use from its base port:
// MaxValidators nodes, counting those AddNode adds later.
const planSpan = PortsPerNode * MaxValidators

// DefaultBasePortFor is the base port Generate takes when none is given, on
// a host whose ephemeral range is eph: DefaultBasePort, whose ports (for up
// to MaxValidators nodes) lie below the usual range 32768-60999; on a host
// whose range covers them, the highest multiple of 100 whose ports all lie
// below the range, else the lowest one above it; DefaultBasePort when the
// range leaves room on neither side.
func DefaultBasePortFor(eph PortRange) int {
	if !eph.overlaps(DefaultBasePort, DefaultBasePort+planSpan-1) {
		return DefaultBasePort
	}
	if below := (eph.Lo - planSpan) / 100 * 100; below >= 1024 {
		return below
	}
	if above := (eph.Hi + 100) / 100 * 100; above+planSpan-1 <= 65535 {
		return above
	}
	return DefaultBasePort
}

// defaultBasePort is DefaultBasePortFor this host's ephemeral range.
func defaultBasePort() int {
	eph, ok := EphemeralRange()
	if !ok {
		return DefaultBasePort
	}
	return DefaultBasePortFor(eph)
}

// PortWarning says why the ports of nodes nodes from base are a poor choice
// on this host (they overlap its ephemeral range), or "" when they are not.
func PortWarning(base, nodes int) string {
	eph, ok := EphemeralRange()
	last := base + PortsPerNode*(nodes-1) + portsUsed - 1
	if !ok || !eph.overlaps(base, last) {
		return ""
	}
	return fmt.Sprintf("ports %d-%d overlap this host's ephemeral port range %s (%s): an outgoing connection may take one, and its TIME-WAIT then keeps the node from listening there for up to 60 s; a --base-port of %d or lower avoids that",
		base, last, eph, ephemeralRangeFile, max(1024, (eph.Lo-planSpan)/100*100))
}

// checkPorts reports every port Generate would assign that a node could not
// bind now: TCP for RPC, Prometheus, REST and the REST metrics, and for P2P
// TCP or UDP (libp2p speaks QUIC). A busy TCP port says what holds it.
func checkPorts(o Options) error {
	var busy []string
	onlyTimeWait := true
	try := func(network string, port int) {
		if bindable(network, port) {
			return
		}
		entry := network + "/" + strconv.Itoa(port)
		if network == "tcp" {
			why, tw := tcpHolders(port)
			entry += why
			onlyTimeWait = onlyTimeWait && tw
		} else {
			onlyTimeWait = false
		}
		busy = append(busy, entry)
	}
	p2pNet := "tcp"
	if o.Transport == consensus.TransportLibP2P {
		p2pNet = "udp"
	}
	for i := range o.Validators {
		base := o.BasePort + PortsPerNode*i
		try(p2pNet, base)
		for p := 1; p < portsUsed; p++ {
			try("tcp", base+p) // RPC, Prometheus, REST, REST metrics
		}
	}
	if len(busy) == 0 {
		return nil
	}
	hint := "is a testnet running? stop it, or pass another --base-port"
	if onlyTimeWait {
		hint = "wait a minute, or pass another --base-port"
		if eph, ok := EphemeralRange(); ok {
			hint += fmt.Sprintf(" outside the ephemeral range %s", eph)
		}
	}
	return fmt.Errorf("%w: %s on %s (%s)", ErrPortInUse, strings.Join(busy, ", "), host, hint)
}

// bindable reports whether a node could listen on host:port now. TCP
// listens as the node's listeners do (Go's, with SO_REUSEADDR): a port
// whose earlier connections linger in TIME-WAIT after a server closed them
// is free. UDP binds as QUIC does, without it.
func bindable(network string, port int) bool {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	if network == "udp" {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return false
		}
		c.Close()
		return true
	}
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	l, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// TCP states in /proc/net/tcp.
const (
	tcpTimeWait = "06"
	tcpListen   = "0A"
)

// tcpHolders describes the sockets that hold local TCP port port (from
// /proc/net/tcp and tcp6; "" where unreadable) and whether they are all
// connections in TIME-WAIT.
func tcpHolders(port int) (why string, onlyTimeWait bool) {
	var listen, timeWait, other int
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 4 {
				continue
			}
			i := strings.LastIndexByte(fields[1], ':')
			p, err := strconv.ParseUint(fields[1][i+1:], 16, 16)
			if i < 0 || err != nil || int(p) != port {
				continue
			}
			switch fields[3] {
			case tcpListen:
				listen++
			case tcpTimeWait:
				timeWait++
			default:
				other++
			}
		}
		fh.Close()
	}
	switch {
	case listen > 0:
		return " (a process listens on it)", false
	case timeWait > 0 && other == 0:
		return " (held only by a closed connection lingering in TIME-WAIT; the kernel frees it within 60 s)", true
	case other > 0:
		return " (an open connection uses it as its local port)", false
	}
	return "", false
}
