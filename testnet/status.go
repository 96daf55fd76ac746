package testnet

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
)

// Files the testnet scripts keep in each node home.
const (
	PIDFile = "dstt.pid" // the running node's process id; removed when it is stopped
	LogFile = "dstt.log" // the node's stdout and stderr, appended across restarts
)

// Process states NodeStatus.Process reports: from the home's pid file, and from
// the node's ports for a node started some other way (no pid file, or a stale one).
const (
	ProcessRunning = "running" // the pid file names a live process, or the node answers on its ports
	ProcessStopped = "stopped" // no pid file, and nothing answers on the node's ports
	ProcessStale   = "dead"    // the pid file names a process that is gone (killed), and nothing answers
)

// How NodeStatus.DetectedBy says a running node was found.
const (
	DetectedByPIDFile = "pid_file" // the scripts' pid file names a live process
	DetectedByRPC     = "rpc"      // its CometBFT RPC answered /status
	DetectedByREST    = "rest"     // its REST gateway answered /healthz
	DetectedByPort    = "port"     // something accepts connections on its RPC or REST port (starting up?)
)

// NodeStatus is one node as its RPC (/status, /net_info) and pid file show it.
type NodeStatus struct {
	Name       string `json:"name"`
	Org        string `json:"org"`
	RPC        string `json:"rpc"`
	Process    string `json:"process"`
	PID        int    `json:"pid,omitempty"`
	DetectedBy string `json:"detected_by,omitempty"` // for a running node: DetectedBy*
	REST       string `json:"rest,omitempty"`        // the gateway's address, from the manifest
	RESTUp     bool   `json:"rest_up"`               // its /healthz answered`
	Error      string `json:"error,omitempty"`       // why the RPC did not answer
	Height     int64  `json:"height"`
	AppHash    string `json:"app_hash"`
	BlockHash  string `json:"block_hash"` // of Height
	CatchingUp bool   `json:"catching_up"`
	Power      int64  `json:"voting_power"`
	// ValidatorAddress is the node's consensus key address (upper-case hex), as
	// /validators lists it when the node is a validator.
	ValidatorAddress string   `json:"validator_address"`
	PendingTxs       int      `json:"pending_txs"` // txs in its mempool
	Peers            int      `json:"peers"`
	PeerIDs          []string `json:"peer_ids"` // sorted
}

// Reachable reports whether the node's RPC answered.
func (s NodeStatus) Reachable() bool { return s.Error == "" }

// Status asks every node for its status, concurrently; a node that does not answer
// before ctx is done has Error set.
func Status(ctx context.Context, nw *Network) []NodeStatus {
	out := make([]NodeStatus, len(nw.Nodes))
	var wg sync.WaitGroup
	for i, n := range nw.Nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = nodeStatus(ctx, n)
		}()
	}
	wg.Wait()
	return out
}

func nodeStatus(ctx context.Context, n Node) NodeStatus {
	s := NodeStatus{Name: n.Name, Org: n.Org, RPC: n.RPC, REST: n.REST}
	s.Process, s.PID = processState(n.Home)
	if s.Process == ProcessRunning {
		s.DetectedBy = DetectedByPIDFile
	}
	s.RESTUp = n.REST != "" && restHealthy(ctx, n.RESTURL())
	s.rpcStatus(ctx, n)
	// A node started without the scripts (dstt start --home by hand, a
	// process manager) has no pid file: its ports say it runs.
	if s.Process != ProcessRunning {
		switch {
		case s.Reachable():
			s.DetectedBy = DetectedByRPC
		case s.RESTUp:
			s.DetectedBy = DetectedByREST
		case listening(ctx, strings.TrimPrefix(n.RPC, "tcp://")) || (n.REST != "" && listening(ctx, n.REST)):
			s.DetectedBy = DetectedByPort
		}
		if s.DetectedBy != "" {
			s.Process, s.PID = ProcessRunning, 0
		}
	}
	return s
}

// restHealthy reports whether the gateway at base answers GET /healthz with 200.
func restHealthy(ctx context.Context, base string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := probeClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// probeClient is for health probes: short, no keep-alive left behind.
var probeClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

// listening reports whether something accepts TCP connections at addr.
func listening(ctx context.Context, addr string) bool {
	d := net.Dialer{Timeout: time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// rpcStatus fills s from the node's RPC (/status, /net_info); Error says why not.
func (s *NodeStatus) rpcStatus(ctx context.Context, n Node) {
	c, err := rpchttp.New(n.RPC, "/websocket")
	if err != nil {
		s.Error = err.Error()
		return
	}
	st, err := c.Status(ctx)
	if err != nil {
		s.Error = shortRPCError(err)
		return
	}
	s.Height = st.SyncInfo.LatestBlockHeight
	s.AppHash = st.SyncInfo.LatestAppHash.String()
	s.BlockHash = st.SyncInfo.LatestBlockHash.String()
	s.CatchingUp = st.SyncInfo.CatchingUp
	s.Power = st.ValidatorInfo.VotingPower
	s.ValidatorAddress = st.ValidatorInfo.Address.String()
	if mp, err := c.NumUnconfirmedTxs(ctx); err == nil {
		s.PendingTxs = mp.Total
	}
	ni, err := c.NetInfo(ctx)
	if err != nil {
		s.Error = shortRPCError(err)
		return
	}
	s.Peers = ni.NPeers
	for _, p := range ni.Peers {
		s.PeerIDs = append(s.PeerIDs, string(p.NodeInfo.ID()))
	}
	slices.Sort(s.PeerIDs)
}

// shortRPCError keeps the useful tail of an RPC client error ("connection refused").
func shortRPCError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "dial") {
		return strings.TrimSpace(msg[i+2:])
	}
	return msg
}

// processState reads HOME/dstt.pid and checks that the process exists.
func processState(home string) (string, int) {
	data, err := os.ReadFile(filepath.Join(home, PIDFile))
	if err != nil {
		return ProcessStopped, 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return ProcessStale, 0
	}
	// Signal 0 checks existence. EPERM means it exists but is someone else's.
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return ProcessStale, pid
	}
	return ProcessRunning, pid
}

// Agreement compares the block hash at one height on every node that answered: the
// lowest height among them (every one of them has that block). It returns that height
// and, if some node's hash differs, a description of the split (a fork: never expected).
func Agreement(ctx context.Context, nw *Network, statuses []NodeStatus) (int64, error) {
	var h int64 = -1
	for _, s := range statuses {
		if s.Reachable() && (h < 0 || s.Height < h) {
			h = s.Height
		}
	}
	if h <= 0 {
		return 0, nil
	}
	hashes := map[string][]string{}
	for i, s := range statuses {
		if !s.Reachable() {
			continue
		}
		c, err := rpchttp.New(nw.Nodes[i].RPC, "/websocket")
		if err != nil {
			return h, err
		}
		b, err := c.Block(ctx, &h)
		if err != nil {
			return h, fmt.Errorf("testnet: %s: block %d: %w", s.Name, h, err)
		}
		hash := b.BlockID.Hash.String()
		hashes[hash] = append(hashes[hash], s.Name)
	}
	if len(hashes) > 1 {
		var parts []string
		for _, hash := range slices.Sorted(maps.Keys(hashes)) {
			parts = append(parts, fmt.Sprintf("%s has %s", strings.Join(hashes[hash], ","), hash))
		}
		return h, fmt.Errorf("testnet: nodes disagree on block %d: %s", h, strings.Join(parts, "; "))
	}
	return h, nil
}

// Ready reports whether the node answers, has a peer, is not catching up and has the
// chain's first block.
func (s NodeStatus) Ready() bool {
	return s.Reachable() && s.Peers > 0 && !s.CatchingUp && s.Height >= 1
}

// WaitReady polls until every node that runs (its pid file names a live process) or
// answers RPC is Ready and has reached the highest height any node had when the wait
// began (so a restarted node has caught up with the chain, not only left block sync),
// or ctx is done; the error then names the nodes not ready.
func WaitReady(ctx context.Context, nw *Network) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	target := int64(-1) // the highest height at the first poll anything answered
	for {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		statuses := Status(sctx, nw)
		cancel()
		if target < 0 {
			for _, s := range statuses {
				if s.Reachable() {
					target = max(target, s.Height)
				}
			}
		}
		var pending []string
		for _, s := range statuses {
			if (s.Process == ProcessRunning || s.Reachable()) && (!s.Ready() || s.Height < target) {
				why := "catching up"
				switch {
				case !s.Reachable():
					why = "RPC: " + s.Error
				case s.Peers == 0:
					why = "no peers"
				case s.Height < 1:
					why = "no block yet"
				case !s.CatchingUp:
					why = fmt.Sprintf("at height %d of %d", s.Height, target)
				}
				pending = append(pending, s.Name+" ("+why+")")
			}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testnet: not ready: %s: %w", strings.Join(pending, ", "), ctx.Err())
		case <-tick.C:
		}
	}
}
