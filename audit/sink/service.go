package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/dstt/dstt/audit"
)

// ServiceOptions are what Start needs besides the sink configs.
type ServiceOptions struct {
	Sources  map[string]audit.Source // by chain: "consensus", "node"
	Cursors  CursorStore
	Hostname string // default host name in records
	ChainID  string
	Metrics  *Metrics     // nil: none
	Logger   *slog.Logger // nil: silent
}

// Service runs one Shipper per enabled sink.
type Service struct {
	shippers []*Shipper
	sinks    []Sink
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

// Start builds every enabled sink of configs and starts its shipper. It
// fails, starting nothing, if a sink cannot be built or its chain has no
// source.
func Start(ctx context.Context, configs []SinkConfig, opts ServiceOptions) (*Service, error) {
	svc := &Service{}
	type job struct {
		src  audit.Source
		sink Sink
		so   ShipperOptions
	}
	var jobs []job
	for _, c := range configs {
		if c.Disabled {
			continue
		}
		c = c.withDefaults()
		src := opts.Sources[c.Chain]
		if src == nil {
			for _, j := range jobs {
				j.sink.Close()
			}
			return nil, fmt.Errorf("sink %s: no source for chain %q (is the node log disabled?)", c.Name, c.Chain)
		}
		s, err := buildWithChannel(c, opts)
		if err != nil {
			for _, j := range jobs {
				j.sink.Close()
			}
			return nil, err
		}
		so := c.ShipperOptions()
		so.Metrics, so.Logger = opts.Metrics, opts.Logger
		jobs = append(jobs, job{src, s, so})
	}
	ctx, svc.cancel = context.WithCancel(ctx)
	for _, j := range jobs {
		sh := NewShipper(j.src, j.sink, opts.Cursors, j.so)
		svc.shippers = append(svc.shippers, sh)
		svc.sinks = append(svc.sinks, j.sink)
		svc.wg.Go(func() {
			if err := sh.Run(ctx); err != nil && !errors.Is(err, context.Canceled) && j.so.Logger != nil {
				j.so.Logger.Error("audit sink stopped", "sink", j.sink.Name(), "err", err)
			}
		})
	}
	return svc, nil
}

// buildWithChannel builds c; a HEC sink without hec_channel gets the one
// opts.Cursors keeps for it (when it is a ChannelStore), so a restarted
// node keeps its channel.
func buildWithChannel(c SinkConfig, opts ServiceOptions) (Sink, error) {
	if cs, ok := opts.Cursors.(ChannelStore); ok && c.Type == TypeHTTP && c.Mode == ModeHEC && c.HECChannel == "" {
		ch, err := cs.Channel(c.Name)
		if err != nil {
			return nil, fmt.Errorf("sink %s: %w", c.Name, err)
		}
		c.HECChannel = ch
	}
	return c.Build(opts.Hostname, opts.ChainID)
}

// Notify wakes every shipper (call after new entries are committed).
func (s *Service) Notify() {
	for _, sh := range s.shippers {
		sh.Notify()
	}
}

// Status returns every shipper's status, in configuration order.
func (s *Service) Status() []Status {
	out := make([]Status, len(s.shippers))
	for i, sh := range s.shippers {
		out[i] = sh.Status()
	}
	return out
}

// Close stops the shippers and closes the sinks.
func (s *Service) Close() error {
	s.cancel()
	s.wg.Wait()
	var errs []error
	for _, k := range s.sinks {
		errs = append(errs, k.Close())
	}
	return errors.Join(errs...)
}
