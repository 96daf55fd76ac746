// Command retention measures what retention gives back and what it costs
// the chain: it builds a chain on a Pebble store through the engine (signed
// txs of puts, FinalizeBlock and Commit, as a validator runs them), keeping
// every version, then commits the governance tx SetRetention and further
// blocks of one put each until the pruning that the Commits run in bounded
// steps is done, and measures the disk before and after and the slowest
// Commit. It prints the figures that docs/PERFORMANCE.md records. Run it
// with `make bench-retention`.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
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
	if err := buildChain(e, signer, keys, heights, perBlock, valueBytes); err != nil {
		return err
	}
	if err := store.Close(); err != nil {
		return err
	}
	before, err := settled(dir)
	if err != nil {
		return err
	}
	if store, e, err = open(dir); err != nil {
		return err
	}
	op := types.Op{Sum: &types.Op_SetRetention{SetRetention: &types.SetRetention{RetainHeights: retain}}}
	start := time.Now()
	if err := block(e, signer, uint64(heights+1), []types.Op{op}); err != nil {
		return err
	}
	first := time.Since(start)
	floor, err := store.Floor()
	if err != nil {
		return err
	}
	worst, blocks, total, err := pruneOn(e, store, signer, uint64(heights+2), keys, make([]byte, valueBytes))
	if err != nil {
		return err
	}
	start = time.Now()
	if err := store.Close(); err != nil { // waits for the background compaction
		return err
	}
	closing := time.Since(start)
	after, err := du(dir)
	if err != nil {
		return err
	}
	fmt.Printf("retain_heights=%d: lowest readable height %d from the SetRetention block on; its block committed in %s\n",
		retain, floor, first.Round(time.Millisecond))
	fmt.Printf("pruning done after %d more blocks of one put (%s in all); slowest block (FinalizeBlock + Commit) %s; closing the store (waits for the compaction) %s\n",
		blocks, total.Round(time.Millisecond), max(worst, first).Round(time.Millisecond), closing.Round(time.Millisecond))
	tables, err := du(dir, ".sst")
	if err != nil {
		return err
	}
	fmt.Printf("directory right after the pass: %.1f MiB, of which sstables %.1f MiB (the rest: write-ahead logs pebble keeps for reuse)\n",
		mib(after), mib(tables))
	settledAfter, err := settled(dir)
	if err != nil {
		return err
	}
	fmt.Printf("disk (store reopened, as at a restart): %.1f MiB before, %.1f MiB after: %.1f%% reclaimed\n",
		mib(before.dir), mib(settledAfter.dir), reclaimed(before.dir, settledAfter.dir))
	fmt.Printf("the keys' versions (sstables of the user keys key/…): %.1f MiB before, %.1f MiB after: %.1f%% reclaimed; the rest is tx results, audit entries and metadata, which retention keeps\n",
		mib(before.versions), mib(settledAfter.versions), reclaimed(before.versions, settledAfter.versions))
	return nil
}

func reclaimed(before, after int64) float64 { return 100 * float64(before-after) / float64(before) }

// usage is a store's directory size and the part of it that the versions
// of the benchmark's keys take.
type usage struct{ dir, versions int64 }

// buildChain commits heights blocks of one signed tx of perBlock puts each,
// round robin over keys.
func buildChain(e *engine.Engine, signer security.Signer, keys, heights, perBlock, valueBytes int) error {
	start := time.Now()
	// Values are pseudo-random bytes (a fixed seed): like ciphertexts,
	// hashes or signatures they do not compress, so the figures are the
	// versions' own size rather than pebble's compression of filler.
	rng := rand.New(rand.NewPCG(1, 2))
	next := 0
	for h := 1; h <= heights; h++ {
		ops := make([]types.Op, perBlock)
		for i := range ops {
			v := make([]byte, valueBytes)
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			ops[i] = types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: fmt.Sprintf("key/%07d", next%keys), Value: v}}}
			next++
		}
		if err := block(e, signer, uint64(h), ops); err != nil {
			return err
		}
	}
	fmt.Printf("chain: %d heights, %d versions over %d keys, %d-byte values, built in %s\n",
		heights, heights*perBlock, keys, valueBytes, time.Since(start).Round(time.Second))
	return nil
}

// settled opens and closes the store once, as a node's restart does, and
// measures it. Opening replays the write-ahead logs into sstables and drops
// them, so the figure is the data itself: before the first reopen most of
// a freshly built chain sits in write-ahead logs of memtables never
// flushed.
func settled(dir string) (usage, error) {
	store, err := storage.NewPebbleStore(dir, storage.DefaultPebbleOptions())
	if err != nil {
		return usage{}, err
	}
	versions, err := store.DiskUsage([]byte("kkey/")) // the engine keeps user keys under the namespace byte k
	if err != nil {
		store.Close()
		return usage{}, err
	}
	if err := store.Close(); err != nil {
		return usage{}, err
	}
	n, err := du(dir)
	return usage{dir: n, versions: int64(versions)}, err
}

// pruneOn commits blocks of one put from height h on until the store's
// pruning pass is done; it returns the slowest Commit, the blocks and the
// time they took.
func pruneOn(e *engine.Engine, store *storage.PebbleStore, signer security.Signer, h uint64, keys int, value []byte) (worst time.Duration, blocks int, total time.Duration, err error) {
	began := time.Now()
	for ; store.PrunePending(); h++ {
		if blocks++; blocks > 1_000_000 {
			return 0, 0, 0, fmt.Errorf("pruning not done after %d blocks", blocks)
		}
		op := types.Op{Sum: &types.Op_Put{Put: &types.Put{Key: fmt.Sprintf("key/%07d", int(h)%keys), Value: value}}}
		start := time.Now()
		if err := block(e, signer, h, []types.Op{op}); err != nil {
			return 0, 0, 0, err
		}
		worst = max(worst, time.Since(start))
	}
	return worst, blocks, time.Since(began), nil
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

// du sums the sizes of the files in dir whose names end with suffix.
func du(dir string, suffix ...string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (len(suffix) > 0 && !strings.HasSuffix(path, suffix[0])) {
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
