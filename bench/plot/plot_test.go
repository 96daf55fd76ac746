package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const (
	dataDir = "../../docs/perf"
	docFile = "../../docs/PERFORMANCE.md"
)

// TestCommittedMatchData re-renders the plots and the doc's tables from the
// committed data files: the committed ones must be exactly these (after
// changing a data file or this program: go run ./bench/plot render).
func TestCommittedMatchData(t *testing.T) {
	r, err := loadData(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	pngs, err := r.charts()
	if err != nil {
		t.Fatal(err)
	}
	committed, err := filepath.Glob(filepath.Join(dataDir, "*.png"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name, want := range pngs {
		names = append(names, name)
		got, err := os.ReadFile(filepath.Join(dataDir, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("docs/perf/%s is not what the data files give (%v): go run ./bench/plot render", name, err)
		}
	}
	for _, f := range committed {
		if !slices.Contains(names, filepath.Base(f)) {
			t.Errorf("docs/perf/%s is drawn from no data file", filepath.Base(f))
		}
	}
	doc, err := os.ReadFile(docFile)
	if err != nil {
		t.Fatal(err)
	}
	block, err := generatedBlock(doc)
	if err != nil {
		t.Fatal(err)
	}
	if want := r.markdown(); block != want {
		t.Errorf("docs/PERFORMANCE.md's generated block is not what the data files give: go run ./bench/plot render\n got: %s\nwant: %s", block, want)
	}
}

// TestPNGDeterministic: drawing the same data twice gives the same bytes.
func TestPNGDeterministic(t *testing.T) {
	r, err := loadData(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := r.charts()
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.charts()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) == 0 {
		t.Fatal("no plots drawn")
	}
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s: two renderings differ", name)
		}
	}
}

// TestCollectRender collects a small scale run (testdata/run) and renders
// it into a copy of a doc with an empty generated block.
func TestCollectRender(t *testing.T) {
	data := t.TempDir()
	if err := collect("testdata/run", data); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"engine.tsv": "keys\tversions\ttx_per_s\tcpu_us_per_tx\tload_s\tdisk_mib\theap_mib\trss_mib\tread_p50_us\tread_p99_us\n" +
			"1000\t1\t50000\t12.5\t0.0\t1.5\t20.0\t90.0\t3.0\t10.0\n1000\t10\t40000\t\t0.1\t3.0\t22.0\t95.0\t5.0\t30.0\n",
		"node.tsv": "keys\tcommitted_tps\tload_p50_ms\tlight_p50_ms\tlight_p95_ms\trss_mib\tdata_mib\n" +
			"1000\t1000\t500.0\t11.0\t20.0\t300\t200\n",
		"validators.tsv": "system\tvalidators\tcommitted_tps\tload_p50_ms\tlight_p50_ms\tlight_p95_ms\trss_mib\tdata_mib\n" +
			"dstt\t4\t1000\t500.0\t11.0\t20.0\t300\t200\nkvstore\t4\t900\t400.0\t10.0\t15.0\t100\t50\n",
	} {
		got, err := os.ReadFile(filepath.Join(data, name))
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q (%v), want %q", name, got, err, want)
		}
	}
	for _, p := range []string{"engine", "node", "validators"} {
		if env, err := os.ReadFile(filepath.Join(data, p+"-env.tsv")); err != nil || !strings.Contains(string(env), "make bench-scale") {
			t.Errorf("%s-env.tsv: %q %v", p, env, err)
		}
	}
	doc := filepath.Join(t.TempDir(), "doc.md")
	if err := os.WriteFile(doc, []byte("before\n"+beginMark+"\nold\n"+endMark+"\nafter\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := renderAll(data, doc); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(doc)
	for _, want := range []string{"before\n", "| 1k keys x 10 versions | 40,000 | 0.80x | – |", "| 1k keys | 50,000 | 1.00x | 12.5 |", "| kvstore | 4 | 900 |",
		"Run 2026-01-01 00:00 UTC: `make bench-scale` at commit", "Goal: 1 validator at 1k keys vs 1k keys, committed tx/s >= 0.8x: 1.00x (met).", endMark + "\nafter\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("rendered doc lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "old\n") {
		t.Error("the old generated block is still there")
	}
	for _, png := range []string{"state-throughput.png", "state-reads.png", "validators-latency.png"} {
		if b, err := os.ReadFile(filepath.Join(data, png)); err != nil || !bytes.HasPrefix(b, []byte("\x89PNG")) {
			t.Errorf("%s: not a PNG (%v)", png, err)
		}
	}
}
