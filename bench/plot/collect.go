package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/dstt/dstt/bench"
)

var nan = math.NaN()

// collect writes the data files of the parts found in the scale run at in,
// each with the run's environment beside it (PART-env.tsv).
func collect(in, data string) error {
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	env, err := os.ReadFile(filepath.Join(in, "env.tsv"))
	if err != nil {
		return err
	}
	parts := []struct {
		name string
		read func(string) (*table, error)
	}{{"engine", collectEngine}, {"node", collectNode}, {"validators", collectValidators}}
	for _, p := range parts {
		t, err := p.read(in)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if t == nil || len(t.rows) == 0 {
			continue
		}
		if err := os.WriteFile(filepath.Join(data, p.name+".tsv"), t.encode(), 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(data, p.name+"-env.tsv"), env, 0o644); err != nil {
			return err
		}
	}
	return nil
}

var engineCols = []string{"keys", "versions", "tx_per_s", "cpu_us_per_tx", "load_s", "disk_mib", "heap_mib", "rss_mib", "read_p50_us", "read_p99_us"}

// benchLine matches one BenchmarkScale result line.
var benchLine = regexp.MustCompile(`^BenchmarkScale/keys=(\d+),versions=(\d+)(?:-\d+)?\s+\d+\s+(.*)$`)

// collectEngine reads BenchmarkScale's output (engine.txt).
func collectEngine(in string) (*table, error) {
	f, err := os.Open(filepath.Join(in, "engine.txt"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &table{cols: engineCols}
	metric := map[string]string{"tx/s": "tx_per_s", "cpu-us/tx": "cpu_us_per_tx", "load-s": "load_s", "disk-MiB": "disk_mib", "heap-MiB": "heap_mib",
		"rss-MiB": "rss_mib", "old-read-p50-us": "read_p50_us", "old-read-p99-us": "read_p99_us"}
	prec := map[string]int{"tx_per_s": 0, "load_s": 1}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := benchLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v := map[string]string{"keys": m[1], "versions": m[2]}
		f := strings.Fields(m[3])
		for i := 0; i+1 < len(f); i += 2 {
			if col, ok := metric[f[i+1]]; ok {
				x, err := strconv.ParseFloat(f[i], 64)
				if err != nil {
					return nil, fmt.Errorf("%q: %w", sc.Text(), err)
				}
				p, ok := prec[col]
				if !ok {
					p = 1
				}
				v[col] = fmtNum(x, p)
			}
		}
		row := make([]string, len(engineCols))
		for i, c := range engineCols {
			row[i] = v[c]
		}
		t.add(row...)
	}
	return t, sc.Err()
}

var nodeCols = []string{"keys", "committed_tps", "load_p50_ms", "light_p50_ms", "light_p95_ms", "rss_mib", "data_mib"}

// collectNode reads the one-validator runs on pre-loaded homes (node-KEYS/).
func collectNode(in string) (*table, error) {
	dirs, err := filepath.Glob(filepath.Join(in, "node-*"))
	if err != nil {
		return nil, err
	}
	var sizes []int
	for _, d := range dirs {
		if n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "node-")); err == nil {
			sizes = append(sizes, n)
		}
	}
	slices.Sort(sizes)
	t := &table{cols: nodeCols}
	for _, n := range sizes {
		dir := filepath.Join(in, fmt.Sprintf("node-%d", n))
		r, err := systemRow(dir, "dstt", 1)
		if err != nil {
			return nil, err
		}
		if r != nil {
			t.add(append([]string{strconv.Itoa(n)}, r[2:]...)...)
		}
	}
	return t, nil
}

var validatorCols = []string{"system", "validators", "committed_tps", "load_p50_ms", "light_p50_ms", "light_p95_ms", "rss_mib", "data_mib"}

// collectValidators reads bench/compare.sh's run over validator counts
// (validators/).
func collectValidators(in string) (*table, error) {
	dir := filepath.Join(in, "validators")
	t := &table{cols: validatorCols}
	for _, sys := range []string{"dstt", "kvstore"} {
		for n := 1; n <= 9; n++ {
			r, err := systemRow(dir, sys, n)
			if err != nil {
				return nil, err
			}
			if r != nil {
				t.add(r...)
			}
		}
	}
	return t, nil
}

// systemRow is one system at n validators in a bench/compare.sh output
// directory, in validatorCols' order; nil if the run is not there. The
// kvstore's loaded figure is the better of its two loads, as the harness
// keeps it.
func systemRow(dir, sys string, n int) ([]string, error) {
	label, loaded := fmt.Sprintf("dstt%d", n), []string{fmt.Sprintf("dstt%d", n)}
	if sys == "kvstore" {
		label = fmt.Sprintf("kv%d", n)
		loaded = []string{label + "-1tx", label + "-batch"}
	}
	var best *bench.Report
	for _, name := range loaded {
		r, err := readReport(filepath.Join(dir, name+".json"))
		if err != nil {
			return nil, err
		}
		if r != nil && (best == nil || r.CommittedTPS > best.CommittedTPS) {
			best = r
		}
	}
	if best == nil {
		return nil, nil
	}
	light, err := readReport(filepath.Join(dir, label+"-light.json"))
	if err != nil {
		return nil, err
	}
	if light == nil {
		light = &bench.Report{P50ms: nan, P95ms: nan}
	}
	rss, disk, err := resources(dir, label)
	if err != nil {
		return nil, err
	}
	return []string{sys, strconv.Itoa(n), fmtNum(best.CommittedTPS, 0), fmtNum(best.P50ms, 1),
		fmtNum(light.P50ms, 1), fmtNum(light.P95ms, 1), rss, disk}, nil
}

func readReport(path string) (*bench.Report, error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r bench.Report
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

// resources reads label's line of the harness's resources.txt
// ("LABEL rss_mib=N data_mib=N").
func resources(dir, label string) (rss, disk string, err error) {
	raw, err := os.ReadFile(filepath.Join(dir, "resources.txt"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", "", nil
	}
	for _, line := range strings.Split(string(raw), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == label {
			return strings.TrimPrefix(f[1], "rss_mib="), strings.TrimPrefix(f[2], "data_mib="), nil
		}
	}
	return "", "", err
}
