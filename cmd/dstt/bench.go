package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/dstt/dstt/bench"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/transport/client"
)

type benchFlags struct {
	target                 string
	mode                   string
	rate                   float64
	concurrency, batch     int
	duration, warmup       time.Duration
	keys                   int
	mix                    string
	keySpace, hotKeys      int
	valueSize              int
	presign                int
	prefix                 string
	grantFrom              string
	tlsCA, tlsCert, tlsKey string
	validFor               uint64
}

func newBenchCmd(g *globals) *cobra.Command {
	f := &benchFlags{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load a running node and measure committed tx/s and commit latency",
		Long: `Send signed transactions to a running node (its REST gateway, or its CometBFT
RPC with --target tcp://...) and measure what gets committed.

  --mode closed   --concurrency workers each send a request, wait for its
                  block, send the next (throughput at a given concurrency)
  --mode open     requests start at --rate tx/s whatever happens to earlier
                  ones (latency at a given load; counted from when each
                  request was due, so a slow node cannot hide it)

Each request carries --batch txs (over REST one POST /v1/txs in commit mode).
The ops --mix weighs blind puts of fresh keys ("put"), read-modify-writes of
one of --keyspace keys with a version check ("rmw"), and the same on one of
--hot-keys keys ("hot", contention: CONFLICT aborts). Txs are signed by
--keys throwaway keys; on a chain with access control, --grant-from (default:
the home's key) first grants them read/write on the prefix's domain.

It prints a progress line while running, then committed tx/s, the abort
rate, p50/p95/p99 commit latency and a latency histogram (-o json: fields
committed_tps, abort_rate, p50_ms, p95_ms, p99_ms, ...).

  dstt bench --duration 20s --concurrency 32 --batch 100 --presign 400000
  dstt bench --mode open --rate 50 --batch 1 --duration 20s      # light load
  dstt bench --mix put=50,rmw=30,hot=20 --hot-keys 4`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return g.runBench(ctx, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.target, "target", "http://127.0.0.1:8080", "the node: its REST gateway http(s)://HOST:PORT, or CometBFT RPC tcp://HOST:PORT")
	fl.StringVar(&f.mode, "mode", bench.ModeClosed, "closed (fixed concurrency) or open (fixed rate)")
	fl.Float64Var(&f.rate, "rate", 1000, "open loop: offered tx/s")
	fl.IntVar(&f.concurrency, "concurrency", 32, "closed loop: workers; open loop: most requests in flight")
	fl.IntVar(&f.batch, "batch", 1, "txs per request")
	fl.DurationVar(&f.duration, "duration", 10*time.Second, "measured time")
	fl.DurationVar(&f.warmup, "warmup", 2*time.Second, "unmeasured time first")
	fl.IntVar(&f.keys, "keys", 16, "signer keys (generated for the run)")
	fl.StringVar(&f.mix, "mix", "put=100", "op mix: put=N,rmw=N,hot=N")
	fl.IntVar(&f.keySpace, "keyspace", 10000, "keys of the rmw kind")
	fl.IntVar(&f.hotKeys, "hot-keys", 4, "keys of the hot kind")
	fl.IntVar(&f.valueSize, "value-size", 64, "bytes per put value")
	fl.IntVar(&f.presign, "presign", 0, "sign this many put txs before the run (keeps signing off the clock)")
	fl.StringVar(&f.prefix, "prefix", "", "key prefix (default bench/RUN/, RUN random)")
	fl.StringVar(&f.grantFrom, "grant-from", "", "admin key that grants the throwaway keys access (default: the home's; - to skip)")
	fl.StringVar(&f.tlsCA, "tls-ca", "", "https: CA bundle (PEM) of the gateway's certificate")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "https: client certificate (PEM)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "https: client key (PEM)")
	fl.Uint64Var(&f.validFor, "valid-for", 900, "blocks the txs stay valid (the replay window is 1000)")
	return cmd
}

func (f *benchFlags) tlsConfig() (*tls.Config, error) {
	if f.tlsCA == "" && f.tlsCert == "" {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS13}
	if f.tlsCA != "" {
		pem, err := os.ReadFile(f.tlsCA)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--tls-ca %s: no PEM certificates", f.tlsCA)
		}
	}
	if f.tlsCert != "" {
		pair, err := tls.LoadX509KeyPair(f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return tc, nil
}

func (g *globals) runBench(ctx context.Context, f *benchFlags) error {
	mix, err := bench.ParseMix(f.mix)
	if err != nil {
		return err
	}
	tc, err := f.tlsConfig()
	if err != nil {
		return err
	}
	signers := make([]security.Signer, max(f.keys, 1))
	for i := range signers {
		if signers[i], err = security.GenerateKey(); err != nil {
			return err
		}
	}
	// Reads (rmw, hot) are signed by the first key, which gets read access.
	c, err := client.Connect(f.target, client.WithTLSConfig(tc), client.WithSigner(signers...))
	if err != nil {
		return err
	}
	defer c.Close()
	prefix := f.prefix
	if prefix == "" {
		prefix = fmt.Sprintf("bench/%d/", time.Now().UnixNano()%1_000_000_000)
	}
	domain, _, _ := strings.Cut(prefix, "/")
	setupCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := g.benchGrant(setupCtx, f, c, domain, signers); err != nil {
		return err
	}
	w, err := bench.NewDsttWorkload(setupCtx, bench.DsttConfig{
		Client: c, Signers: signers, Mix: mix, Batch: f.batch, Prefix: prefix,
		KeySpace: f.keySpace, HotKeys: f.hotKeys, ValueSize: f.valueSize, ValidFor: f.validFor, Presign: f.presign,
	})
	if err != nil {
		return err
	}
	cfg := bench.Config{
		Mode: f.mode, Rate: f.rate, Concurrency: f.concurrency, Warmup: f.warmup, Duration: f.duration,
		Progress: g.stderr, ProgressEvery: time.Second,
	}
	if fd, ok := g.stderr.(*os.File); ok && term.IsTerminal(int(fd.Fd())) {
		cfg.ProgressCR = true
	}
	rep, err := bench.Run(ctx, cfg, w)
	if err != nil {
		return err
	}
	rep.Target = f.target
	rep.Extra = map[string]any{"mix": mix.String(), "keys": len(signers), "value_size": f.valueSize, "presigned": f.presign}
	return g.print(rep, rep.WriteText)
}

// benchGrant gives the throwaway keys access to the prefix's domain,
// signed by --grant-from (default: the home's key). On a chain without
// access control the grant is harmless.
func (g *globals) benchGrant(ctx context.Context, f *benchFlags, c *client.Client, domain string, signers []security.Signer) error {
	from := f.grantFrom
	if from == "-" {
		return nil
	}
	if from == "" {
		cc, _ := loadClientConfig(g.home)
		from = cc.From
	}
	if from == "" {
		fmt.Fprintln(g.stderr, "bench: no --grant-from key: if the chain has access control, the throwaway keys will be refused")
		return nil
	}
	kr, err := g.openKeyring()
	if err != nil {
		return err
	}
	admin, err := kr.Signer(from)
	if err != nil {
		return fmt.Errorf("--grant-from %q: %w", from, err)
	}
	if err := bench.GrantRole(ctx, c, admin, domain, signers); err != nil {
		return fmt.Errorf("granting the bench keys access to domain %q (as %q): %w", domain, from, err)
	}
	return nil
}
