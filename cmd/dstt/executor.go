package main

import (
	"context"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/client/cometrpc"
	"github.com/dstt/dstt/transport/executor"
)

// executorFlags switch on the gtx executor of `dstt start`.
type executorFlags struct {
	on   bool
	key  string
	org  string
	step bool
}

func (f *executorFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.on, "gtx-executor", false, "run a gtx executor: call participants for the global transactions' pending steps and submit their signed answers (docs/TRANSACTIONS.md)")
	fs.StringVar(&f.key, "gtx-executor-key", "", "keyring key the executor signs participant requests and answer txs with (default: the home's default key)")
	fs.StringVar(&f.org, "gtx-executor-org", "", "only drive the steps of this org's participants (default: every gtx)")
	fs.BoolVar(&f.step, "gtx-executor-step", false, "single-step the executor: it runs a gtx's next step only after dstt gtx step GID")
}

// startExecutor starts the executor when switched on; the returned wait
// blocks until it has stopped (after ctx ends).
func (g *globals) startExecutor(ctx context.Context, f executorFlags, rpc, logLevel string) (wait func(), err error) {
	if !f.on {
		return func() {}, nil
	}
	if logLevel == "" {
		logLevel = "info"
	}
	logger, err := newSlogLogger(g.stderr, logLevel)
	if err != nil {
		return nil, err
	}
	if g.backend == "" { // start --dev may have just written client.json
		cc, _ := loadClientConfig(g.home)
		g.backend = cc.KeyringBackend
	}
	key, err := g.signerFor(f.key, "the gtx executor's key")
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, usageErr("--gtx-executor needs a key: --gtx-executor-key NAME, or a default key in the home's client.json")
	}
	c, err := cometrpc.New(rpc, client.WithSigner(key))
	if err != nil {
		return nil, fmt.Errorf("gtx executor: %w", err)
	}
	cfg := executor.DefaultConfig()
	cfg.Signer, cfg.Logger = key, logger
	if f.step {
		cfg.Gate = executor.StepGate{Dir: gtxGateDir(g.home)}.Wait
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c.Close()
		if err := executor.RunNode(ctx, c, f.org, cfg); err != nil && ctx.Err() == nil {
			logger.Error("gtx executor stopped", "err", err)
		}
	}()
	return func() { <-done }, nil
}
