package consensus

import (
	"errors"
	"fmt"
	"net"
	"strings"

	cfg "github.com/cometbft/cometbft/config"
)

// ErrPublicRPC is returned by NewNode with RequireLoopbackRPC when one of
// CometBFT's operator listeners (rpc.laddr, rpc.grpc_laddr,
// rpc.pprof_laddr) is not on a loopback address.
var ErrPublicRPC = errors.New("consensus: CometBFT RPC listens beyond loopback")

// NodeOption configures NewNode.
type NodeOption func(*nodeOptions)

type nodeOptions struct {
	loopbackRPC bool
}

// RequireLoopbackRPC makes NewNode refuse (ErrPublicRPC) a config whose
// CometBFT RPC, gRPC or pprof listener is reachable from other hosts.
// CometBFT's RPC has no authentication and serves every block and tx
// (values included): on a chain with access control it is an operator
// port, and the REST gateway is the client interface.
func RequireLoopbackRPC() NodeOption { return func(o *nodeOptions) { o.loopbackRPC = true } }

// PublicRPCListeners lists the CometBFT operator listeners of c that are
// not loopback-only, as "key=address" ("rpc.laddr=tcp://0.0.0.0:26657").
// Unix sockets are local; an empty address is off.
func PublicRPCListeners(c *cfg.Config) []string {
	var out []string
	for _, l := range []struct{ key, addr string }{
		{"rpc.laddr", c.RPC.ListenAddress},
		{"rpc.grpc_laddr", c.RPC.GRPCListenAddress},
		{"rpc.pprof_laddr", c.RPC.PprofListenAddress},
	} {
		if l.addr != "" && !IsLoopbackListen(l.addr) {
			out = append(out, l.key+"="+l.addr)
		}
	}
	return out
}

// IsLoopbackListen reports whether a listen address ("tcp://host:port",
// "host:port" or "unix://path") accepts connections from this host only:
// a unix socket, "localhost", or a loopback IP (127.0.0.0/8, ::1). An empty
// host or 0.0.0.0 / :: listens everywhere; any other name may resolve
// anywhere, so neither is loopback.
func IsLoopbackListen(addr string) bool {
	proto, rest, ok := strings.Cut(addr, "://")
	if !ok {
		proto, rest = "tcp", addr
	}
	if proto == "unix" {
		return true
	}
	host, _, err := net.SplitHostPort(rest)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

func checkLoopbackRPC(c *cfg.Config) error {
	if public := PublicRPCListeners(c); len(public) > 0 {
		return fmt.Errorf("%w: %s (set it to 127.0.0.1 in config.toml: the RPC serves every stored value without authentication; clients use the REST gateway)",
			ErrPublicRPC, strings.Join(public, ", "))
	}
	return nil
}
