package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/types"
)

// Mix weighs the kinds of tx the dstt workload sends.
type Mix struct {
	Put int // a blind put of a fresh key
	RMW int // read a key of KeySpace, then check its version and put value+1
	Hot int // the same on one of HotKeys keys: contention, CONFLICT aborts
}

// ParseMix reads "put=80,rmw=15,hot=5" (missing kinds weigh 0).
func ParseMix(s string) (Mix, error) {
	var m Mix
	for part := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return m, fmt.Errorf("bench: mix %q: want put=N,rmw=N,hot=N", s)
		}
		switch k {
		case "put":
			m.Put = n
		case "rmw":
			m.RMW = n
		case "hot":
			m.Hot = n
		default:
			return m, fmt.Errorf("bench: mix %q: unknown kind %q (put, rmw, hot)", s, k)
		}
	}
	if m.Put+m.RMW+m.Hot == 0 {
		return m, fmt.Errorf("bench: mix %q weighs nothing", s)
	}
	return m, nil
}

func (m Mix) String() string { return fmt.Sprintf("put=%d,rmw=%d,hot=%d", m.Put, m.RMW, m.Hot) }

// DsttConfig configures DsttWorkload.
type DsttConfig struct {
	Client  *client.Client
	Signers []security.Signer // txs are signed round-robin
	Mix     Mix
	// Batch is the number of txs per request (POST /v1/txs with "txs").
	Batch int
	// Prefix starts every key (its first segment is the RBAC domain).
	Prefix    string
	KeySpace  int // keys of the rmw kind
	HotKeys   int // keys of the hot kind
	ValueSize int // bytes of a put's value
	// ValidFor is valid_until_height minus the height at setup.
	ValidFor uint64
	// Presign signs this many put txs before the run (0: sign as needed).
	Presign int
}

// DsttWorkload submits signed txs to a dstt node and waits for their
// blocks (commit mode).
type DsttWorkload struct {
	cfg        DsttConfig
	chainID    string
	validUntil uint64        // of the presigned txs
	height     atomic.Uint64 // highest height seen in a result
	seq        atomic.Uint64
	presigned  [][]byte
	next       atomic.Int64
	total      int
	valueBuf   []byte
}

// NewDsttWorkload reads the chain id and height and presigns if asked.
func NewDsttWorkload(ctx context.Context, cfg DsttConfig) (*DsttWorkload, error) {
	if cfg.Client == nil || len(cfg.Signers) == 0 {
		return nil, errors.New("bench: the dstt workload needs a client and signers")
	}
	cfg.Batch = max(cfg.Batch, 1)
	cfg.KeySpace = max(cfg.KeySpace, 1)
	cfg.HotKeys = max(cfg.HotKeys, 1)
	if cfg.ValidFor == 0 {
		cfg.ValidFor = 900
	}
	info, err := cfg.Client.ChainInfo(ctx)
	if err != nil {
		return nil, err
	}
	w := &DsttWorkload{cfg: cfg, chainID: info.ChainID, validUntil: uint64(info.LatestHeight) + cfg.ValidFor,
		total: cfg.Mix.Put + cfg.Mix.RMW + cfg.Mix.Hot, valueBuf: make([]byte, max(cfg.ValueSize, 1))}
	if _, err := rand.Read(w.valueBuf); err != nil {
		return nil, err
	}
	w.height.Store(uint64(info.LatestHeight))
	if cfg.Presign > 0 {
		if err := w.presign(cfg.Presign); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// TxsPerRequest implements Workload.
func (w *DsttWorkload) TxsPerRequest() int { return w.cfg.Batch }

func (w *DsttWorkload) value(n int) []byte {
	// A distinct value per tx (the first 8 bytes carry the sequence).
	v := make([]byte, len(w.valueBuf))
	copy(v, w.valueBuf)
	copy(v, strconv.Itoa(n))
	return v
}

// sign signs ops valid until ValidFor blocks past the highest height seen
// (a long run at light load goes through many blocks).
func (w *DsttWorkload) sign(seq uint64, ops ...types.Op) ([]byte, error) {
	return w.signUntil(seq, w.height.Load()+w.cfg.ValidFor, ops...)
}

func (w *DsttWorkload) signUntil(seq, validUntil uint64, ops ...types.Op) ([]byte, error) {
	body := &types.TxBody{ChainId: w.chainID, Nonce: client.RandomNonce(), ValidUntilHeight: validUntil, Ops: ops}
	return security.SignTx(body, w.cfg.Signers[seq%uint64(len(w.cfg.Signers))])
}

func (w *DsttWorkload) putOp(seq uint64) types.Op {
	key := fmt.Sprintf("%sput/%d", w.cfg.Prefix, seq)
	return types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: key, Value: w.value(int(seq))}}}
}

// presign signs n put txs on every core.
func (w *DsttWorkload) presign(n int) error {
	w.presigned = make([][]byte, n)
	base := w.seq.Add(uint64(n)) - uint64(n)
	var wg sync.WaitGroup
	errs := make([]error, runtime.GOMAXPROCS(0))
	for p := range errs {
		wg.Go(func() {
			for i := p; i < n; i += len(errs) {
				tx, err := w.signUntil(base+uint64(i), w.validUntil, w.putOp(base+uint64(i)))
				if err != nil {
					errs[p] = err
					return
				}
				w.presigned[i] = tx
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// rmwTx reads key and builds check(key, version) + put(key, n+1).
func (w *DsttWorkload) rmwTx(ctx context.Context, seq uint64, key string) ([]byte, error) {
	kv, _, err := w.cfg.Client.Get(ctx, key, 0)
	var ver types.Version
	n := 0
	switch {
	case errors.Is(err, client.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		ver = kv.Version
		n, _ = strconv.Atoi(string(kv.Value))
	}
	return w.sign(seq,
		types.Op{Sum: &types.Op_Check{Check: &types.Check{Key: key, Version: ver}}},
		types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: key, Value: []byte(strconv.Itoa(n + 1))}}})
}

// Do implements Workload: a batch of txs by the mix, submitted in commit
// mode.
func (w *DsttWorkload) Do(ctx context.Context, _ int) ([]Result, error) {
	txs := make([][]byte, 0, w.cfg.Batch)
	for range w.cfg.Batch {
		pick := mrand.IntN(w.total)
		var tx []byte
		var err error
		switch {
		case pick < w.cfg.Mix.Put:
			if i := w.next.Add(1) - 1; i < int64(len(w.presigned)) {
				tx = w.presigned[i]
				break
			}
			seq := w.seq.Add(1)
			tx, err = w.sign(seq, w.putOp(seq))
		case pick < w.cfg.Mix.Put+w.cfg.Mix.RMW:
			tx, err = w.rmwTx(ctx, w.seq.Add(1), fmt.Sprintf("%srmw/%d", w.cfg.Prefix, mrand.IntN(w.cfg.KeySpace)))
		default:
			tx, err = w.rmwTx(ctx, w.seq.Add(1), fmt.Sprintf("%shot/%d", w.cfg.Prefix, mrand.IntN(w.cfg.HotKeys)))
		}
		if err != nil {
			return nil, err
		}
		txs = append(txs, tx)
	}
	outs, err := w.cfg.Client.BroadcastBatch(ctx, txs, true)
	if err != nil {
		return nil, err
	}
	rs := make([]Result, len(outs))
	for i, o := range outs {
		for h := uint64(max(o.Height, 0)); ; {
			cur := w.height.Load()
			if h <= cur || w.height.CompareAndSwap(cur, h) {
				break
			}
		}
		switch {
		case o.Status == api.StatusCommitted:
			rs[i].Outcome = Committed
		case o.Status == api.StatusFailed && o.Code == uint32(types.CodeConflict):
			rs[i].Outcome = Aborted
		default:
			rs[i] = Result{Outcome: Failed, Reason: o.Status + " " + o.CodeName + ": " + firstLine(o.Log)}
		}
	}
	return rs, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	// Drop per-tx details (hashes, heights) so failures group by kind.
	if i := strings.Index(s, ": "); i >= 0 && len(s) > 80 {
		s = s[:i]
	}
	return s
}

// GrantRole gives signers read and write on every key of domain through a
// role, in one tx signed by admin (a no-op on a chain without access
// control). The role is named "bench".
func GrantRole(ctx context.Context, c *client.Client, admin security.Signer, domain string, signers []security.Signer) error {
	ops := []types.Op{{Sum: &types.Op_Policy{Policy: &types.PolicyRule{Subject: "bench", Domain: domain, Object: "*", Action: "*"}}}}
	for _, s := range signers {
		ops = append(ops, types.Op{Sum: &types.Op_Grant{Grant: &types.Grant{Subject: types.Address(s.PubKey()), Role: "bench", Domain: domain}}})
	}
	_, err := c.Submit(ctx, &types.TxBody{Ops: ops}, admin)
	return err
}
