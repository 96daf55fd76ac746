package testnet_test

// A concurrent-transfer workload for the fault tests, and its invariants: money moves
// between accounts in txs that check both balances' versions (optimistic concurrency),
// so under any fault the total is conserved, every transfer acknowledged as committed
// is in the state of every node, and all nodes hold one chain.

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/client/cometrpc"
	"github.com/dstt/dstt/types"
)

const (
	transferAccounts = 8
	transferInitial  = 1000
)

func accountKey(prefix string, i int) string { return fmt.Sprintf("%s/acct/%d", prefix, i) }

// transfers is a running transfer workload.
type transfers struct {
	c      *cluster
	prefix string
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	acks      []ack // the transfers' marker keys, acknowledged as committed
	conflicts int
	errs      int
	last      error
}

// startTransfers funds the accounts (one tx through node1) and starts workers that
// move money between random accounts through the nodes that are up.
func (c *cluster) startTransfers(tb testing.TB, prefix string, workers int) *transfers {
	tb.Helper()
	nodes := c.network().Nodes
	signer := devSigner(tb, nodes[0].Home)
	cl, err := cometrpc.New(nodes[0].RPC)
	if err != nil {
		tb.Fatal(err)
	}
	var ops []types.Op
	for i := range transferAccounts {
		ops = append(ops, types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: accountKey(prefix, i), Value: []byte(strconv.Itoa(transferInitial))}}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cl.Submit(ctx, &types.TxBody{Ops: ops}, signer); err != nil {
		tb.Fatalf("fund the accounts: %v", err)
	}
	lctx, lcancel := context.WithCancel(context.Background())
	tr := &transfers{c: c, prefix: prefix, cancel: lcancel}
	for w := range workers {
		tr.wg.Add(1)
		go tr.worker(lctx, w, devSigner(tb, nodes[w%len(nodes)].Home))
	}
	tb.Cleanup(tr.stop)
	return tr
}

func (tr *transfers) worker(ctx context.Context, w int, signer security.Signer) {
	defer tr.wg.Done()
	clients := map[string]*client.Client{}
	for i := 0; ctx.Err() == nil; i++ {
		name := tr.c.pickUp()
		if name == "" {
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		cl := clients[name]
		if cl == nil {
			nw := tr.c.network()
			var err error
			if cl, err = cometrpc.New(nw.Nodes[nodeIndex(nw, name)].RPC); err != nil {
				tr.fail(err)
				continue
			}
			cl.SetReader(signer)
			clients[name] = cl
		}
		tr.transfer(ctx, cl, name, signer, w, i)
	}
}

// transfer moves a random amount between two random accounts: read both, then a tx
// that checks their versions, writes the new balances and a marker key.
func (tr *transfers) transfer(ctx context.Context, cl *client.Client, node string, signer security.Signer, w, i int) {
	a := rand.IntN(transferAccounts)
	b := (a + 1 + rand.IntN(transferAccounts-1)) % transferAccounts
	sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	ka, kb := accountKey(tr.prefix, a), accountKey(tr.prefix, b)
	va, _, err1 := cl.Get(sctx, ka, 0)
	vb, _, err2 := cl.Get(sctx, kb, 0)
	if err := errors.Join(err1, err2); err != nil {
		tr.fail(err)
		pause(ctx)
		return
	}
	ba, _ := strconv.Atoi(string(va.Value))
	bb, _ := strconv.Atoi(string(vb.Value))
	amt := 1 + rand.IntN(10)
	marker, mval := fmt.Sprintf("%s/t/%d/%d", tr.prefix, w, i), fmt.Sprintf("%d>%d:%d", a, b, amt)
	body := &types.TxBody{Ops: []types.Op{
		{Sum: &types.Op_Check{Check: &types.Check{Key: ka, Version: va.Version}}},
		{Sum: &types.Op_Check{Check: &types.Check{Key: kb, Version: vb.Version}}},
		{Sum: &types.Op_Put{Put: &types.Put{Key: ka, Value: []byte(strconv.Itoa(ba - amt))}}},
		{Sum: &types.Op_Put{Put: &types.Put{Key: kb, Value: []byte(strconv.Itoa(bb + amt))}}},
		{Sum: &types.Op_Put{Put: &types.Put{Key: marker, Value: []byte(mval)}}},
	}}
	sent := time.Now()
	res, err := cl.Submit(sctx, body, signer)
	var te *client.TxError
	switch {
	case errors.As(err, &te) && te.Code == types.CodeConflict:
		tr.mu.Lock()
		tr.conflicts++
		tr.mu.Unlock()
	case err != nil:
		tr.fail(err)
		pause(ctx)
	default:
		tr.mu.Lock()
		tr.acks = append(tr.acks, ack{key: marker, value: mval, height: res.Height, node: node, sent: sent, latency: time.Since(sent)})
		tr.mu.Unlock()
	}
}

// pause keeps a dead node or a stalled chain from turning a worker into a spin.
func pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Millisecond):
	}
}

func (tr *transfers) fail(err error) {
	tr.mu.Lock()
	tr.errs++
	if !errors.Is(err, context.Canceled) {
		tr.last = err
	}
	tr.mu.Unlock()
}

func (tr *transfers) stop() { tr.cancel(); tr.wg.Wait() }

func (tr *transfers) count(keep func(ack) bool) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n := 0
	for _, a := range tr.acks {
		if keep == nil || keep(a) {
			n++
		}
	}
	return n
}

func (tr *transfers) describe() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return fmt.Sprintf("%d transfers acked, %d conflicts, %d errors (last: %v)", len(tr.acks), tr.conflicts, tr.errs, tr.last)
}

// checkInvariants stops the workload and asserts, on the named nodes: one chain (no
// fork, checkAgreement), the total of all balances at that height conserved, and every acknowledged
// transfer's marker readable with its value at the height it was acknowledged in.
func (tr *transfers) checkInvariants(tb testing.TB, names ...string) {
	tb.Helper()
	tr.stop()
	h := tr.c.checkAgreement(tb, names...)
	tr.mu.Lock()
	acks := append([]ack(nil), tr.acks...)
	tr.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for _, name := range names {
		n := tr.c.node(tb, name)
		cl, err := cometrpc.New(n.RPC)
		if err != nil {
			tb.Fatal(err)
		}
		cl.SetReader(devSigner(tb, n.Home))
		// All balances at the one height the nodes agree on: a transfer still
		// in a mempool when the workers stopped may commit between two reads
		// of the latest state, and the total of a mix of heights means nothing.
		total := 0
		for i := range transferAccounts {
			kv, _, err := cl.Get(ctx, accountKey(tr.prefix, i), h)
			if err != nil {
				tb.Fatalf("%s: account %d: %v", name, i, err)
			}
			v, _ := strconv.Atoi(string(kv.Value))
			total += v
		}
		if total != transferAccounts*transferInitial {
			tb.Fatalf("%s: balances add up to %d, not %d: money created or lost", name, total, transferAccounts*transferInitial)
		}
		for _, a := range acks {
			kv, _, err := cl.Get(ctx, a.key, 0)
			if err != nil || string(kv.Value) != a.value || int64(kv.Version.Height) != a.height {
				tb.Fatalf("%s: acknowledged transfer %s=%s (height %d) not in state: %q at %d, %v", name, a.key, a.value, a.height, kv.Value, kv.Version.Height, err)
			}
		}
	}
	tb.Logf("invariants hold on %v at height %d: total %d conserved, all %d acknowledged transfers present, one chain (%s)",
		names, h, transferAccounts*transferInitial, len(acks), tr.describe())
}
