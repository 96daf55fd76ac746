package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	rpchttp "github.com/cometbft/cometbft/rpc/client/http"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/bench"
)

// The pipelined load is how the kvstore's operators measure throughput:
// workers send broadcast_tx_sync (one tx, or a JSON-RPC batch) and go on
// as soon as CheckTx answers, without waiting for the commit; commits are
// counted from the NewBlock events. At most inflight txs are sent and not
// yet committed (a full mempool only answers errors). Latency is from the
// send to the block event that holds the tx.

// pipeTracker remembers when each tx was sent and counts the commits.
type pipeTracker struct {
	mu                 sync.Mutex
	sent               map[[32]byte]time.Time
	hist               *bench.Histogram
	measureFrom, until time.Time
	committed, failed  int64
	slots              chan struct{} // one per tx in flight
}

func (p *pipeTracker) add(txs []cmttypes.Tx, at time.Time) {
	p.mu.Lock()
	for _, tx := range txs {
		p.sent[sha256.Sum256(tx)] = at
	}
	p.mu.Unlock()
}

// drop forgets txs that were refused (or never sent) and frees their slots.
func (p *pipeTracker) drop(txs []cmttypes.Tx) {
	p.mu.Lock()
	for _, tx := range txs {
		delete(p.sent, sha256.Sum256(tx))
	}
	p.mu.Unlock()
	for range txs {
		<-p.slots
	}
}

func (p *pipeTracker) block(nb cmttypes.EventDataNewBlock, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, tx := range nb.Block.Txs {
		h := sha256.Sum256(tx)
		at, ok := p.sent[h]
		if !ok {
			continue
		}
		delete(p.sent, h)
		<-p.slots
		if now.Before(p.measureFrom) || now.After(p.until) {
			continue
		}
		if i < len(nb.ResultFinalizeBlock.TxResults) && nb.ResultFinalizeBlock.TxResults[i].Code != 0 {
			p.failed++
			continue
		}
		p.committed++
		p.hist.Record(now.Sub(at))
	}
}

// runPipelined runs the pipelined load for warmup+duration against c.
func runPipelined(ctx context.Context, c *rpchttp.HTTP, l *loadFlags, inflight int) (bench.Report, error) {
	events, err := c.Subscribe(ctx, "kvbench-pipe", cmttypes.EventQueryNewBlock.String(), 10_000)
	if err != nil {
		return bench.Report{}, fmt.Errorf("subscribe to blocks: %w", err)
	}
	start := time.Now()
	p := &pipeTracker{sent: map[[32]byte]time.Time{}, hist: bench.NewHistogram(),
		measureFrom: start.Add(l.Warmup), until: start.Add(l.Warmup + l.Duration), slots: make(chan struct{}, inflight)}
	go func() {
		for ev := range events {
			if nb, ok := ev.Data.(cmttypes.EventDataNewBlock); ok && nb.Block != nil {
				p.block(nb, time.Now())
			}
		}
	}()
	runCtx, cancel := context.WithDeadline(ctx, p.until)
	defer cancel()
	var refused atomic.Int64
	var wg sync.WaitGroup
	run := runID()
	var seq atomic.Uint64
	for range l.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				txs := make([]cmttypes.Tx, max(l.batch, 1))
				for i := range txs {
					n := seq.Add(1)
					txs[i] = fmt.Appendf(nil, "p%s-%d=v%d", run, n, n)
				}
				if !acquire(runCtx, p.slots, len(txs)) {
					return
				}
				p.add(txs, time.Now())
				bad, err := sendPipelined(runCtx, c, txs)
				if err != nil {
					p.drop(txs)
					refused.Add(int64(len(txs)))
					sleepCtx(runCtx, 2*time.Millisecond) // mempool full or busy: back off
					continue
				}
				if len(bad) > 0 {
					p.drop(bad)
					refused.Add(int64(len(bad)))
				}
			}
		}()
	}
	wg.Wait()
	<-runCtx.Done()
	p.mu.Lock()
	defer p.mu.Unlock()
	rep := bench.Report{Mode: "pipelined", Concurrency: l.Concurrency, TxsPerRequest: max(l.batch, 1),
		DurationS: l.Duration.Seconds(), Committed: p.committed, Failed: p.failed,
		CommittedTPS: float64(p.committed) / l.Duration.Seconds(),
		P50ms:        ms(p.hist.Quantile(0.5)), P95ms: ms(p.hist.Quantile(0.95)), P99ms: ms(p.hist.Quantile(0.99)),
		MaxMs: ms(p.hist.Max()), MeanMs: ms(p.hist.Mean()), Histogram: p.hist.Buckets(),
		Extra: map[string]any{"inflight": inflight, "refused_or_retried": refused.Load()}}
	return rep, nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// acquire takes n slots, or fails when ctx ends first (the slots it took
// stay taken: the run is over).
func acquire(ctx context.Context, slots chan struct{}, n int) bool {
	for range n {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// sendPipelined sends txs with broadcast_tx_sync (a JSON-RPC batch when
// several) and returns the ones CheckTx refused.
func sendPipelined(ctx context.Context, c *rpchttp.HTTP, txs []cmttypes.Tx) ([]cmttypes.Tx, error) {
	var bad []cmttypes.Tx
	if len(txs) == 1 {
		res, err := c.BroadcastTxSync(ctx, txs[0])
		if err != nil {
			return nil, err
		}
		if res.Code != 0 {
			bad = txs
		}
		return bad, nil
	}
	b := c.NewBatch()
	for _, tx := range txs {
		if _, err := b.BroadcastTxSync(ctx, tx); err != nil {
			return nil, err
		}
	}
	res, err := b.Send(ctx)
	if err != nil {
		return nil, err
	}
	if len(res) != len(txs) {
		return nil, fmt.Errorf("JSON-RPC batch: %d answers for %d txs", len(res), len(txs))
	}
	for i, r := range res {
		if bt, ok := r.(*ctypes.ResultBroadcastTx); !ok || bt.Code != 0 {
			bad = append(bad, txs[i])
		}
	}
	return bad, nil
}
