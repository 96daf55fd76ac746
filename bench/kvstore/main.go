package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cometbft/cometbft/abci/example/kvstore"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/bench"
	"github.com/dstt/dstt/consensus"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kvstore init|node|load|inproc|compare [flags]")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "init":
		err = cmdInit(os.Args[2:])
	case "node":
		err = cmdNode(ctx, os.Args[2:])
	case "load":
		err = cmdLoad(ctx, os.Args[2:])
	case "inproc":
		err = cmdInproc(ctx, os.Args[2:])
	case "compare":
		err = cmdCompare(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
}

func cmdInit(args []string) error {
	fs := flag.NewFlagSet("init", flag.ExitOnError)
	home := fs.String("home", "", "home directory")
	rpc := fs.String("rpc-laddr", "tcp://127.0.0.1:26757", "RPC listen address")
	p2p := fs.String("p2p-laddr", "tcp://127.0.0.1:26756", "P2P listen address")
	_ = fs.Parse(args)
	_, err := consensus.InitHome(consensus.InitOptions{Home: *home, ChainID: "kvstore-bench", RPCListen: *rpc, P2PListen: *p2p})
	return err
}

// openNode parses args with fs and its own --home flag, and builds the
// kvstore node of that home (not started).
func openNode(fs *flag.FlagSet, args []string) (*consensus.Node, func(), error) {
	home := fs.String("home", "", "home directory")
	_ = fs.Parse(args)
	h, err := consensus.OpenHome(*home)
	if err != nil {
		return nil, nil, err
	}
	app := kvstore.NewPersistentApplication(filepath.Join(h.DataDir(), "kvstore"))
	n, err := consensus.NewNode(h, app, nil)
	if err != nil {
		_ = app.Close()
		return nil, nil, err
	}
	return n, func() { _ = app.Close() }, nil
}

func cmdNode(ctx context.Context, args []string) error {
	n, closeApp, err := openNode(flag.NewFlagSet("node", flag.ExitOnError), args)
	if err != nil {
		return err
	}
	defer closeApp()
	fmt.Fprintf(os.Stderr, "kvstore node: RPC %s\n", n.RPCAddress())
	return n.Run(ctx)
}

// loadFlags are the load shape, shared by load and inproc.
type loadFlags struct {
	bench.Config
	json  bool
	batch int
}

func (l *loadFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&l.Mode, "mode", bench.ModeClosed, "open or closed")
	fs.Float64Var(&l.Rate, "rate", 1000, "open loop: offered tx/s")
	fs.IntVar(&l.Concurrency, "concurrency", 256, "closed: workers; open: most requests in flight")
	fs.DurationVar(&l.Duration, "duration", 10*time.Second, "measured time")
	fs.DurationVar(&l.Warmup, "warmup", 2*time.Second, "unmeasured time first")
	fs.BoolVar(&l.json, "json", false, "print the report as JSON")
	fs.IntVar(&l.batch, "batch", 1, "txs per request (over HTTP: one JSON-RPC batch request)")
}

func (l *loadFlags) run(ctx context.Context, target string, w bench.Workload) error {
	cfg := l.Config
	cfg.Progress, cfg.ProgressEvery = os.Stderr, time.Second
	rep, err := bench.Run(ctx, cfg, w)
	if err != nil {
		return err
	}
	rep.Target = target
	return l.print(rep)
}

func (l *loadFlags) print(rep bench.Report) error {
	if l.json {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	rep.WriteText(os.Stdout)
	return nil
}

// kvWorkload submits kvstore txs ("key=value") through broadcast_tx_sync,
// batch at a time (over HTTP one JSON-RPC batch request), and waits until
// committed blocks hold them all.
type kvWorkload struct {
	rpc     rpcclient.Client
	http    *rpchttp.HTTP // for JSON-RPC batches; nil in-process
	tracker *tracker
	run     string
	batch   int
	seq     atomic.Uint64
}

func (w *kvWorkload) TxsPerRequest() int { return w.batch }

func (w *kvWorkload) Do(ctx context.Context, _ int) ([]bench.Result, error) {
	txs := make([]cmttypes.Tx, w.batch)
	chans := make([]chan uint32, w.batch)
	for i := range txs {
		n := w.seq.Add(1)
		txs[i] = fmt.Appendf(nil, "b%s-%d=v%d", w.run, n, n)
		chans[i] = w.tracker.watch(sha256.Sum256(txs[i]))
	}
	forget := func() {
		for _, tx := range txs {
			w.tracker.forget(sha256.Sum256(tx))
		}
	}
	codes := make([]uint32, len(txs))
	logs := make([]string, len(txs))
	switch {
	case w.http != nil && len(txs) > 1:
		b := w.http.NewBatch()
		for _, tx := range txs {
			if _, err := b.BroadcastTxSync(ctx, tx); err != nil {
				forget()
				return nil, err
			}
		}
		res, err := b.Send(ctx)
		if err != nil {
			forget()
			return nil, err
		}
		if len(res) != len(txs) {
			forget()
			return nil, fmt.Errorf("JSON-RPC batch: %d answers for %d txs", len(res), len(txs))
		}
		for i, r := range res {
			bt, ok := r.(*ctypes.ResultBroadcastTx)
			if !ok {
				forget()
				return nil, fmt.Errorf("JSON-RPC batch: answer %d is %T", i, r)
			}
			codes[i], logs[i] = bt.Code, bt.Log
		}
	default:
		for i, tx := range txs {
			res, err := w.rpc.BroadcastTxSync(ctx, tx)
			if err != nil {
				forget()
				return nil, err
			}
			codes[i], logs[i] = res.Code, res.Log
		}
	}
	rs := make([]bench.Result, len(txs))
	for i := range txs {
		if codes[i] != 0 {
			w.tracker.forget(sha256.Sum256(txs[i]))
			rs[i] = bench.Result{Outcome: bench.Failed, Reason: fmt.Sprintf("CheckTx code %d: %s", codes[i], logs[i])}
			chans[i] = nil
		}
	}
	for i, ch := range chans {
		if ch == nil {
			continue
		}
		select {
		case code := <-ch:
			if code != 0 {
				rs[i] = bench.Result{Outcome: bench.Failed, Reason: fmt.Sprintf("block code %d", code)}
			}
		case <-ctx.Done():
			forget()
			return nil, ctx.Err()
		}
	}
	return rs, nil
}

// tracker follows NewBlock events and tells the waiters of each tx.
type tracker struct {
	mu      sync.Mutex
	waiters map[[32]byte]chan uint32
}

func (t *tracker) watch(h [32]byte) chan uint32 {
	ch := make(chan uint32, 1)
	t.mu.Lock()
	t.waiters[h] = ch
	t.mu.Unlock()
	return ch
}

func (t *tracker) forget(h [32]byte) {
	t.mu.Lock()
	delete(t.waiters, h)
	t.mu.Unlock()
}

func startTracker(ctx context.Context, c rpcclient.Client) (*tracker, error) {
	ch, err := c.Subscribe(ctx, "kvbench", cmttypes.EventQueryNewBlock.String(), 1000)
	if err != nil {
		return nil, fmt.Errorf("subscribe to blocks: %w", err)
	}
	t := &tracker{waiters: map[[32]byte]chan uint32{}}
	go func() {
		for ev := range ch {
			nb, ok := ev.Data.(cmttypes.EventDataNewBlock)
			if !ok || nb.Block == nil {
				continue
			}
			t.mu.Lock()
			for i, tx := range nb.Block.Txs {
				h := sha256.Sum256(tx)
				if w, ok := t.waiters[h]; ok {
					delete(t.waiters, h)
					var code uint32
					if i < len(nb.ResultFinalizeBlock.TxResults) {
						code = nb.ResultFinalizeBlock.TxResults[i].Code
					}
					w <- code
				}
			}
			t.mu.Unlock()
		}
	}()
	return t, nil
}

func runID() string { return fmt.Sprintf("%d", time.Now().UnixNano()%1_000_000_000) }

func cmdLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	var l loadFlags
	l.register(fs)
	addr := fs.String("rpc", "tcp://127.0.0.1:26757", "the node's CometBFT RPC")
	inflight := fs.Int("pipeline", 0, "pipelined load (workers go on once CheckTx answers; commits counted from blocks) with at most this many txs in flight; 0: each request waits for its commits")
	_ = fs.Parse(args)
	// A client as tuned as the REST SDK's: keep-alive connections for
	// every worker (CometBFT's default client keeps 2 and re-dials).
	hc := &http.Client{Transport: &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 4096,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}}
	c, err := rpchttp.NewWithClient(*addr, "/websocket", hc)
	if err != nil {
		return err
	}
	if err := c.Start(); err != nil {
		return fmt.Errorf("websocket: %w", err)
	}
	defer func() { _ = c.Stop() }()
	if *inflight > 0 {
		if err := l.Config.Validate(); err != nil {
			return err
		}
		rep, err := runPipelined(ctx, c, &l, *inflight)
		if err != nil {
			return err
		}
		rep.Target = "kvstore via CometBFT HTTP RPC " + *addr + ", pipelined"
		return l.print(rep)
	}
	t, err := startTracker(ctx, c)
	if err != nil {
		return err
	}
	return l.run(ctx, "kvstore via CometBFT HTTP RPC "+*addr, &kvWorkload{rpc: c, http: c, tracker: t, run: runID(), batch: max(l.batch, 1)})
}

func cmdInproc(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("inproc", flag.ExitOnError)
	var l loadFlags
	l.register(fs)
	n, closeApp, err := openNode(fs, args)
	if err != nil {
		return err
	}
	defer closeApp()
	if err := n.Start(); err != nil {
		return err
	}
	defer func() { _ = n.Stop() }()
	t, err := startTracker(ctx, n.Client())
	if err != nil {
		return err
	}
	return l.run(ctx, "kvstore in-process (rpclocal)", &kvWorkload{rpc: n.Client(), tracker: t, run: runID(), batch: max(l.batch, 1)})
}
