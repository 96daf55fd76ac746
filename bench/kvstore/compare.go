package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/dstt/dstt/bench"
)

// results are the reports of one bench/compare.sh run, read from its
// output directory; a run the harness skipped is nil.
type results struct {
	dir                 string
	kv1, kv1b, kv1light *bench.Report
	kv4, kv4b, kv4light *bench.Report
	kv1inproc           *bench.Report
	d1, d1light         *bench.Report
	d4, d4light         *bench.Report
	engine              map[string]float64 // BenchmarkFinalizeCommit variant -> tx/s
}

func loadResults(dir string) (*results, error) {
	r := &results{dir: dir}
	var errs []error
	load := func(name string) *bench.Report {
		raw, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		var rep bench.Report
		if err == nil {
			err = json.Unmarshal(raw, &rep)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			return nil
		}
		return &rep
	}
	r.kv1, r.kv1b, r.kv1light = load("kv1-1tx"), load("kv1-batch"), load("kv1-light")
	r.kv4, r.kv4b, r.kv4light = load("kv4-1tx"), load("kv4-batch"), load("kv4-light")
	r.kv1inproc = load("kv1-inproc")
	r.d1, r.d1light = load("dstt1"), load("dstt1-light")
	r.d4, r.d4light = load("dstt4"), load("dstt4-light")
	eng, err := engineResults(filepath.Join(dir, "engine.txt"))
	if err != nil {
		errs = append(errs, err)
	}
	r.engine = eng
	return r, errors.Join(errs...)
}

var benchLine = regexp.MustCompile(`^BenchmarkFinalizeCommit/(\S+?)(-\d+)?\s.*\s([0-9.]+) tx/s`)

// engineResults reads `go test -bench FinalizeCommit` output: tx/s by variant.
func engineResults(path string) (map[string]float64, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := benchLine.FindStringSubmatch(sc.Text()); m != nil {
			var v float64
			if _, err := fmt.Sscan(m[3], &v); err == nil {
				out[m[1]] = v
			}
		}
	}
	return out, sc.Err()
}

// better is the report with more committed tx/s (the tuned baseline keeps
// the better of its 1-tx and batched runs).
func better(a, b *bench.Report) *bench.Report {
	if a == nil || (b != nil && b.CommittedTPS > a.CommittedTPS) {
		return b
	}
	return a
}

func cmdCompare(args []string) error {
	fset := flag.NewFlagSet("compare", flag.ExitOnError)
	dir := fset.String("dir", "", "bench/compare.sh's output directory")
	_ = fset.Parse(args)
	r, err := loadResults(*dir)
	if err != nil {
		return err
	}
	r.print(os.Stdout)
	return nil
}

func (r *results) print(w io.Writer) {
	fmt.Fprintf(w, "%-50s %12s %9s %9s %9s %8s\n", "run", "committed/s", "p50 ms", "p95 ms", "p99 ms", "aborts")
	for _, row := range []struct {
		name string
		rep  *bench.Report
	}{
		{"kvstore, 1 validator, 1 tx/request", r.kv1},
		{"kvstore, 1 validator, JSON-RPC batches", r.kv1b},
		{"kvstore, 1 validator, load in-process", r.kv1inproc},
		{"kvstore, 1 validator, light load", r.kv1light},
		{"dstt, 1 validator, REST POST /v1/txs", r.d1},
		{"dstt, 1 validator, light load", r.d1light},
		{"kvstore, 4 validators, 1 tx/request", r.kv4},
		{"kvstore, 4 validators, JSON-RPC batches", r.kv4b},
		{"kvstore, 4 validators, light load", r.kv4light},
		{"dstt, 4 validators, REST POST /v1/txs", r.d4},
		{"dstt, 4 validators, light load", r.d4light},
	} {
		if rep := row.rep; rep != nil {
			fmt.Fprintf(w, "%-50s %12.0f %9.1f %9.1f %9.1f %7.2f%%\n", row.name, rep.CommittedTPS, rep.P50ms, rep.P95ms, rep.P99ms, 100*rep.AbortRate)
		}
	}
	if len(r.engine) > 0 {
		fmt.Fprintf(w, "%-50s %12.0f   (cached: %.0f)\n", "engine alone, FinalizeBlock+Commit, cold", r.engine["cold"], r.engine["cached"])
	}
	fmt.Fprintln(w)
	r.printGoals(w)
	fmt.Fprintln(w)
	r.printConfigs(w)
}

// printGoals prints the goals table: dstt against the tuned kvstore (the
// better of its 1-tx and batched runs) and the latency goals.
func (r *results) printGoals(w io.Writer) {
	fmt.Fprintln(w, "| measure | goal | now |")
	fmt.Fprintln(w, "|---|---|---|")
	ratio := func(d, kv *bench.Report) string {
		if d == nil || kv == nil || kv.CommittedTPS == 0 {
			return "not run"
		}
		return fmt.Sprintf("%.2fx (%.0f / %.0f tx/s)", d.CommittedTPS/kv.CommittedTPS, d.CommittedTPS, kv.CommittedTPS)
	}
	lat := func(rep *bench.Report, p95 bool) string {
		switch {
		case rep == nil:
			return "not run"
		case p95:
			return fmt.Sprintf("%.1f / %.1f ms", rep.P50ms, rep.P95ms)
		}
		return fmt.Sprintf("%.1f ms", rep.P50ms)
	}
	eng := "not run"
	if v, ok := r.engine["cold"]; ok {
		eng = fmt.Sprintf("%.0f tx/s (cached %.0f)", v, r.engine["cached"])
	}
	rows := [][3]string{
		{"4 validators, committed tx/s, signatures + RBAC + audit", ">= 0.8x tuned kvstore", ratio(r.d4, better(r.kv4, r.kv4b))},
		{"1 validator, committed tx/s", ">= 1.3x tuned kvstore", ratio(r.d1, better(r.kv1, r.kv1b))},
		{"1 validator, light-load commit p50, default config", "<= 10 ms", lat(r.d1light, false)},
		{"4 validators, light-load commit p50 / p95, default config", "<= 60 / 100 ms", lat(r.d4light, true)},
		{"engine alone (FinalizeBlock + Commit, 10k-tx blocks, with verification)", ">= 50,000 tx/s", eng},
		{"1 validator at 10M keys vs 10k keys, committed tx/s", ">= 0.8x", "not measured by this harness"},
	}
	for _, row := range rows {
		fmt.Fprintf(w, "| %s | %s | %s |\n", row[0], row[1], row[2])
	}
	fmt.Fprintf(w, "(tuned kvstore light-load p50 / p95: 1 validator %s, 4 validators %s)\n", lat(r.kv1light, true), lat(r.kv4light, true))
}

// printConfigs prints the run's environment and every system's settings
// (tune_home's config-*.txt).
func (r *results) printConfigs(w io.Writer) {
	if env, err := os.ReadFile(filepath.Join(r.dir, "env.txt")); err == nil {
		w.Write(env)
	}
	if res, err := os.ReadFile(filepath.Join(r.dir, "resources.txt")); err == nil {
		fmt.Fprintf(w, "node memory and data after the loads (node1 of 4):\n%s", res)
	}
	for _, c := range []struct{ label, name string }{
		{"kv1", "kvstore, 1 validator"}, {"dstt1", "dstt, 1 validator"},
		{"kv4", "kvstore, 4 validators (node1)"}, {"dstt4", "dstt, 4 validators (node1)"},
	} {
		if b, err := os.ReadFile(filepath.Join(r.dir, "config-"+c.label+".txt")); err == nil {
			fmt.Fprintf(w, "config.toml, %s: %s\n", c.name, strings.TrimSpace(string(b)))
		}
	}
}
