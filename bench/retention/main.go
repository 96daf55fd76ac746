// Command retention measures what retention gives back: it builds a chain
// on a Pebble store through the engine (signed txs of puts, FinalizeBlock
// and Commit, as a validator runs them), keeping every version, then
// commits the governance tx SetRetention and measures the disk before and
// after the pruning that its Commit runs. It prints the figures that
// docs/PERFORMANCE.md records. Run it with `make bench-retention`.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/storage"
	"github.com/dstt/dstt/types"
)

const chainID = "retention-bench"

func main() {
	keys := flag.Int("keys", 100_000, "distinct keys")
	heights := flag.Int("heights", 20_000, "blocks of puts")
	perBlock := flag.Int("per-block", 50, "puts per block (one tx)")
	valueBytes := flag.Int("value-bytes", 100, "bytes per value")
	retain := flag.Uint64("retain", 1000, "retain_heights set by governance after the last block")
	dir := flag.String("dir", "", "store directory (default: a new temporary one, removed at the end)")
	flag.Parse()
	if *dir == "" {
		d, err := os.MkdirTemp("", "dstt-retention-")
		if err != nil {
			log.Fatal(err)
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	if err := run(*dir, *keys, *heights, *perBlock, *valueBytes, *retain); err != nil {
		log.Fatal(err)
	}
}

func run(dir string, keys, heights, perBlock, valueBytes int, retain uint64) error {
	seed := sha256.Sum256([]byte("dstt-retention-bench"))
	signer := security.NewLocalSigner(ed25519.NewKeyFromSeed(seed[:]))
	addr := types.Address(signer.PubKey())
	g := engine.DefaultGenesisState()
	g.Admins = []string{addr}
	g.Orgs = []types.Org{{ID: "org1", Admins: []string{addr}}}
	g.Threshold = 1
	state, err := json.Marshal(g)
	if err != nil {
		return err
	}
	store, e, err := open(dir)
	if err != nil {
		return err
	}
	if _, err := e.InitChain(chainID, state); err != nil {
		return err
	}
	start := time.Now()
	value := make([]byte, valueBytes)
	next := 0
	for h := 1; h <= heights; h++ {
		ops := make([]types.Op, perBlock)
		for i := range ops {
			copy(value, fmt.Sprintf("%08d/%08d", h, i))
			ops[i] = types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: fmt.Sprintf("key/%07d", next%keys), Value: value}}}
			next++
		}
		if err := block(e, signer, uint64(h), ops); err != nil {
			return err
		}
	}
	fmt.Printf("chain: %d heights, %d versions over %d keys, %d-byte values, built in %s\n",
		heights, heights*perBlock, keys, valueBytes, time.Since(start).Round(time.Second))
	if err := store.Close(); err != nil {
		return err
	}
	before, err := du(dir)
	if err != nil {
		return err
	}
	if store, e, err = open(dir); err != nil {
		return err
	}
	op := types.Op{Sum: &types.Op_SetRetention{SetRetention: &types.SetRetention{RetainHeights: retain}}}
	start = time.Now()
	if err := block(e, signer, uint64(heights+1), []types.Op{op}); err != nil {
		return err
	}
	took := time.Since(start)
	floor, err := store.Floor()
	if err != nil {
		return err
	}
	if err := store.Close(); err != nil {
		return err
	}
	after, err := du(dir)
	if err != nil {
		return err
	}
	fmt.Printf("retain_heights=%d: lowest readable height %d; the block with SetRetention committed and pruned in %s\n",
		retain, floor, took.Round(time.Millisecond))
	fmt.Printf("disk: %.1f MiB before, %.1f MiB after: %.1f%% reclaimed\n",
		mib(before), mib(after), 100*float64(before-after)/float64(before))
	return nil
}

func open(dir string) (*storage.PebbleStore, *engine.Engine, error) {
	store, err := storage.NewPebbleStore(dir, storage.DefaultPebbleOptions())
	if err != nil {
		return nil, nil, err
	}
	e, err := engine.NewEngine(store, engine.PlainVerifier{})
	return store, e, err
}

// block commits one block at height h holding one tx of ops.
func block(e *engine.Engine, signer security.Signer, h uint64, ops []types.Op) error {
	tx, err := security.SignTx(&types.TxBody{ChainId: chainID, Nonce: h, ValidUntilHeight: h, Ops: ops}, signer)
	if err != nil {
		return err
	}
	res, err := e.FinalizeBlock(engine.Block{Height: h, Time: time.Unix(int64(h), 0), Txs: [][]byte{tx}})
	if err != nil {
		return err
	}
	if c := res.Txs[0].Code; c != types.CodeOK {
		return fmt.Errorf("height %d: %s %s", h, c.Name(), res.Txs[0].Log)
	}
	return e.Commit()
}

func du(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err == nil {
			n += fi.Size()
		}
		return err
	})
	return n, err
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }
