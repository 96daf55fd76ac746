package testnet

import (
	"context"
	"errors"
	"fmt"
	"maps"
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

// Process states NodeStatus.Process reports, from the home's pid file.
const (
	ProcessRunning = "running" // the pid file names a live process
	ProcessStopped = "stopped" // no pid file
	ProcessStale   = "dead"    // the pid file names a process that is gone (killed)
)

// NodeStatus is one node as its RPC (/status, /net_info) and pid file show it.
type NodeStatus struct {
	Name       string   `json:"name"`
	Org        string   `json:"org"`
	RPC        string   `json:"rpc"`
	Process    string   `json:"process"`
	PID        int      `json:"pid,omitempty"`
	Error      string   `json:"error,omitempty"` // why the RPC did not answer
	Height     int64    `json:"height"`
	AppHash    string   `json:"app_hash"`
	BlockHash  string   `json:"block_hash"` // of Height
	CatchingUp bool     `json:"catching_up"`
	Power      int64    `json:"voting_power"`
	Peers      int      `json:"peers"`
	PeerIDs    []string `json:"peer_ids"` // sorted
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
	s := NodeStatus{Name: n.Name, Org: n.Org, RPC: n.RPC}
	s.Process, s.PID = processState(n.Home)
	c, err := rpchttp.New(n.RPC, "/websocket")
	if err != nil {
		s.Error = err.Error()
		return s
	}
	st, err := c.Status(ctx)
	if err != nil {
		s.Error = shortRPCError(err)
		return s
	}
	s.Height = st.SyncInfo.LatestBlockHeight
	s.AppHash = st.SyncInfo.LatestAppHash.String()
	s.BlockHash = st.SyncInfo.LatestBlockHash.String()
	s.CatchingUp = st.SyncInfo.CatchingUp
	s.Power = st.ValidatorInfo.VotingPower
	ni, err := c.NetInfo(ctx)
	if err != nil {
		s.Error = shortRPCError(err)
		return s
	}
	s.Peers = ni.NPeers
	for _, p := range ni.Peers {
		s.PeerIDs = append(s.PeerIDs, string(p.NodeInfo.ID()))
	}
	slices.Sort(s.PeerIDs)
	return s
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
// answers RPC is Ready, or ctx is done; the error then names the nodes not ready.
func WaitReady(ctx context.Context, nw *Network) error {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		statuses := Status(sctx, nw)
		cancel()
		var pending []string
		for _, s := range statuses {
			if (s.Process == ProcessRunning || s.Reachable()) && !s.Ready() {
				why := "catching up"
				switch {
				case !s.Reachable():
					why = "RPC: " + s.Error
				case s.Peers == 0:
					why = "no peers"
				case s.Height < 1:
					why = "no block yet"
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
