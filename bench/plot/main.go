// Command plot turns the results of bench/scale.sh (make bench-scale) into
// the data files, plots and tables of docs/PERFORMANCE.md's "How cost
// grows":
//
//	go run ./bench/plot collect -in OUT -data docs/perf   # raw results -> docs/perf/*.tsv
//	go run ./bench/plot render -data docs/perf -doc docs/PERFORMANCE.md
//
// collect reads a bench/scale.sh output directory (BenchmarkScale's output,
// bench/compare.sh's JSON reports and resources.txt) and writes one
// tab-separated file per part (engine.tsv, node.tsv, validators.tsv) plus
// the run's environment (env.tsv); a part the run skipped keeps its old
// file. render draws docs/perf/*.png from the data files and rewrites the
// tables between the generated-block markers of the doc. Both are
// deterministic: the same data files give the same bytes, which the
// package's test checks against the committed files.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "plot:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: plot collect -in OUT -data DIR | plot render -data DIR -doc FILE")
	}
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	in := fs.String("in", "", "collect: bench/scale.sh's output directory")
	data := fs.String("data", "docs/perf", "the data files' directory (the plots go there too)")
	doc := fs.String("doc", "docs/PERFORMANCE.md", "render: the doc whose generated block is rewritten")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "collect":
		if *in == "" {
			return fmt.Errorf("collect: -in is required")
		}
		return collect(*in, *data)
	case "render":
		return renderAll(*data, *doc)
	}
	return fmt.Errorf("unknown command %q (collect or render)", args[0])
}
