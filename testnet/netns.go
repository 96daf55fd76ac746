package testnet

import (
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// Network namespaces: with Options.Subnet set, Generate gives node i (1-based) the
// address SUBNET.i and the name of a network namespace of its own; SetupNetns creates
// the namespaces, a veth pair per node and a bridge joining them (the host itself is
// SUBNET.254 on the bridge, so it reaches every node's RPC and gateway), and
// TeardownNetns deletes them. Each node then has its own address and its own network
// stack, as on separate hosts: a fault (Cut) is an nftables rule set inside a node's
// namespace. All of it needs root and the ip (iproute2) and nft (nftables) commands.

// ErrNetns: a namespace command failed (not root, ip or nft missing, a name taken).
var ErrNetns = errors.New("testnet: network namespaces")

// hostOctet is the host's own address on a testnet's bridge: SUBNET.254.
const hostOctet = 254

// subnetTag is what names derive from: "10.77.3" -> "77-3" (interface names have at
// most 15 characters).
func subnetTag(subnet string) string {
	f := strings.Split(subnet, ".")
	return f[1] + "-" + f[2]
}

// validSubnet reports whether s is the first three octets of an IPv4 /24 ("10.77.3").
func validSubnet(s string) bool {
	f := strings.Split(s, ".")
	if len(f) != 3 {
		return false
	}
	for _, o := range f {
		n, err := strconv.Atoi(o)
		if err != nil || n < 0 || n > 255 || strconv.Itoa(n) != o {
			return false
		}
	}
	return true
}

func bridgeName(subnet string) string { return "dbr" + subnetTag(subnet) }
func vethName(subnet string, i int) string {
	return fmt.Sprintf("dv%s-%d", subnetTag(subnet), i)
}
func vethPeerName(subnet string, i int) string {
	return fmt.Sprintf("dp%s-%d", subnetTag(subnet), i)
}

// netnsName is node i's namespace.
func netnsName(subnet string, i int) string {
	return fmt.Sprintf("dstt-%s-%d", subnetTag(subnet), i)
}

// HostAddress is the host's address on the testnet's bridge ("" without namespaces).
func (nw *Network) HostAddress() string {
	if nw.Subnet == "" {
		return ""
	}
	return fmt.Sprintf("%s.%d", nw.Subnet, hostOctet)
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%w: %s: %v: %s", ErrNetns, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// SetupNetns creates the network's bridge and each node's namespace and veth pair.
// Namespaces that exist already are left as they are (a second call is harmless).
func SetupNetns(nw *Network) error {
	if nw.Subnet == "" {
		return fmt.Errorf("%w: %s was generated without a subnet", ErrNetns, nw.Dir)
	}
	br := bridgeName(nw.Subnet)
	if exec.Command("ip", "link", "show", br).Run() != nil {
		for _, c := range [][]string{
			{"ip", "link", "add", br, "type", "bridge"},
			{"ip", "addr", "add", nw.HostAddress() + "/24", "dev", br},
			{"ip", "link", "set", br, "up"},
		} {
			if err := run(c...); err != nil {
				return err
			}
		}
	}
	for i, n := range nw.Nodes {
		if err := setupNode(nw.Subnet, br, i+1, n); err != nil {
			return err
		}
	}
	return nil
}

func setupNode(subnet, br string, i int, n Node) error {
	if exec.Command("ip", "netns", "exec", n.Netns, "true").Run() == nil {
		return nil
	}
	v, p := vethName(subnet, i), vethPeerName(subnet, i)
	for _, c := range [][]string{
		{"ip", "netns", "add", n.Netns},
		{"ip", "link", "add", v, "type", "veth", "peer", "name", p},
		{"ip", "link", "set", p, "netns", n.Netns},
		{"ip", "-n", n.Netns, "addr", "add", n.IP + "/24", "dev", p},
		{"ip", "-n", n.Netns, "link", "set", p, "up"},
		{"ip", "-n", n.Netns, "link", "set", "lo", "up"},
		{"ip", "link", "set", v, "master", br},
		{"ip", "link", "set", v, "up"},
	} {
		if err := run(c...); err != nil {
			return err
		}
	}
	return nil
}

// TeardownNetns deletes the nodes' namespaces (their veth pairs go with them) and the
// bridge. What is already gone is skipped; every failure is reported.
func TeardownNetns(nw *Network) error {
	if nw.Subnet == "" {
		return nil
	}
	var errs []error
	for _, n := range nw.Nodes {
		if exec.Command("ip", "netns", "exec", n.Netns, "true").Run() == nil {
			errs = append(errs, run("ip", "netns", "del", n.Netns))
		}
	}
	if br := bridgeName(nw.Subnet); exec.Command("ip", "link", "show", br).Run() == nil {
		errs = append(errs, run("ip", "link", "del", br))
	}
	return errors.Join(errs...)
}

// cutTable is the nftables table Cut writes in a node's namespace.
const cutTable = "dstt_cut"

// Cut drops all traffic between node and each of peers (by address, both
// directions), with an nftables table in node's namespace. Cuts add up; Heal
// removes them.
func Cut(nw *Network, node string, peers ...string) error {
	n, err := nw.Node(node)
	if err != nil {
		return err
	}
	if n.Netns == "" {
		return fmt.Errorf("%w: %s has no namespace", ErrNetns, node)
	}
	var ips []string
	for _, p := range peers {
		m, err := nw.Node(p)
		if err != nil {
			return err
		}
		ips = append(ips, m.IP)
	}
	set := strings.Join(ips, ", ")
	script := fmt.Sprintf(`table inet %[1]s {
	chain in { type filter hook input priority 0; policy accept; ip saddr { %[2]s } drop; }
	chain out { type filter hook output priority 0; policy accept; ip daddr { %[2]s } drop; }
}
`, cutTable, set)
	cmd := exec.Command("ip", "netns", "exec", n.Netns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(script)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: nft in %s: %v: %s", ErrNetns, n.Netns, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Heal removes every Cut from every node's namespace.
func Heal(nw *Network) error {
	var errs []error
	for _, n := range nw.Nodes {
		if n.Netns == "" {
			continue
		}
		if exec.Command("ip", "netns", "exec", n.Netns, "nft", "list", "table", "inet", cutTable).Run() == nil {
			errs = append(errs, run("ip", "netns", "exec", n.Netns, "nft", "delete", "table", "inet", cutTable))
		}
	}
	return errors.Join(errs...)
}

// Command is the command line that runs node n from the binary bin: the node's
// StartArgs, run inside its namespace (ip netns exec) when it has one.
func (n Node) Command(bin string) []string {
	cmd := append([]string{bin}, n.StartArgs()...)
	if n.Netns != "" {
		cmd = append([]string{"ip", "netns", "exec", n.Netns}, cmd...)
	}
	return cmd
}

// placeNode moves node n (the i-th, 1-based) to its own address and namespace when the
// network has a subnet: every listen address on SUBNET.i, same ports.
func (nw *Network) placeNode(n *Node, i int) {
	if nw.Subnet == "" {
		return
	}
	n.IP = fmt.Sprintf("%s.%d", nw.Subnet, i)
	n.Netns = netnsName(nw.Subnet, i)
	swap := func(a string) string { return strings.Replace(a, host, n.IP, 1) }
	n.P2P, n.RPC, n.Prometheus, n.REST, n.RESTMetrics = swap(n.P2P), swap(n.RPC), swap(n.Prometheus), swap(n.REST), swap(n.RESTMetrics)
}
