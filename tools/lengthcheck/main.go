package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Limits of acceptance 3.
const (
	DefaultMaxFuncLines = 80
	DefaultMaxFileLines = 600
)

// Kind tells a function entry from a file entry.
type Kind string

const (
	KindFunc Kind = "func"
	KindFile Kind = "file"
)

// Entry is one offender: a function (File is where it is declared, Name its
// qualified name such as "(*Engine).FinalizeBlock") or a file (Name empty).
type Entry struct {
	Kind  Kind
	File  string // slash-separated, relative to the module root
	Name  string
	Lines int
}

// Key identifies an entry in allow.txt.
func (e Entry) Key() string {
	if e.Kind == KindFile {
		return "file " + e.File
	}
	return "func " + e.File + " " + e.Name
}

func (e Entry) String() string {
	if e.Kind == KindFile {
		return fmt.Sprintf("%s: file has %d lines", e.File, e.Lines)
	}
	return fmt.Sprintf("%s: %s has %d lines", e.File, e.Name, e.Lines)
}

func main() {
	root := flag.String("root", ".", "module root to check")
	allowPath := flag.String("allow", "", "allow list (default <root>/tools/lengthcheck/allow.txt)")
	maxFunc := flag.Int("max-func", DefaultMaxFuncLines, "longest allowed function, in lines")
	maxFile := flag.Int("max-file", DefaultMaxFileLines, "longest allowed file, in lines")
	update := flag.Bool("update", false, "rewrite the allow list from the tree (never adds an offender)")
	initList := flag.Bool("init", false, "write the allow list with every current offender; only when it does not exist")
	flag.Parse()
	if *allowPath == "" {
		*allowPath = filepath.Join(*root, "tools", "lengthcheck", "allow.txt")
	}
	lim := Limits{Func: *maxFunc, File: *maxFile}
	if *initList {
		os.Exit(initAllow(os.Stdout, *root, *allowPath, lim))
	}
	os.Exit(run(os.Stdout, *root, *allowPath, lim, *update))
}

func initAllow(w io.Writer, root, allowPath string, lim Limits) int {
	if _, err := os.Stat(allowPath); err == nil {
		fmt.Fprintf(w, "lengthcheck: %s exists; -init never overwrites it (use -update to tighten)\n", allowPath)
		return 2
	}
	found, err := Scan(root, lim)
	if err == nil {
		err = SaveAllow(allowPath, found)
	}
	if err != nil {
		fmt.Fprintln(w, "lengthcheck:", err)
		return 2
	}
	fmt.Fprintf(w, "lengthcheck: wrote %s with %d entries\n", allowPath, len(found))
	return 0
}

// Limits are the maximum lengths, in lines.
type Limits struct{ Func, File int }

func run(w io.Writer, root, allowPath string, lim Limits, update bool) int {
	found, err := Scan(root, lim)
	if err != nil {
		fmt.Fprintln(w, "lengthcheck:", err)
		return 2
	}
	allow, err := LoadAllow(allowPath)
	if err != nil {
		fmt.Fprintln(w, "lengthcheck:", err)
		return 2
	}
	res := Compare(found, allow)
	for _, v := range res.Violations {
		fmt.Fprintln(w, "lengthcheck: FAIL", v.Message())
	}
	if len(res.Violations) > 0 {
		fmt.Fprintf(w, "lengthcheck: %d violation(s): no function over %d lines, no file over %d lines "+
			"(tests and generated code aside); split the code, do not extend %s\n",
			len(res.Violations), lim.Func, lim.File, allowPath)
		return 1
	}
	if update {
		if err := SaveAllow(allowPath, res.Listed); err != nil {
			fmt.Fprintln(w, "lengthcheck:", err)
			return 2
		}
		fmt.Fprintf(w, "lengthcheck: wrote %s with %d entries\n", allowPath, len(res.Listed))
		return 0
	}
	funcs, files := 0, 0
	for _, e := range res.Listed {
		if e.Kind == KindFunc {
			funcs++
		} else {
			files++
		}
	}
	fmt.Fprintf(w, "lengthcheck: ok; reminder: %d function(s) over %d lines and %d file(s) over %d lines "+
		"are still on the ratchet list %s and must shrink\n", funcs, lim.Func, files, lim.File, allowPath)
	if res.Tighter > 0 {
		fmt.Fprintf(w, "lengthcheck: %d listed entr(y/ies) shrank, moved or are gone; "+
			"run `go run ./tools/lengthcheck -update` to tighten the list\n", res.Tighter)
	}
	return 0
}

// Scan returns every function and file of the module at root that is over
// the limits.
func Scan(root string, lim Limits) ([]Entry, error) {
	var out []Entry
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && skipDir(p, d.Name()) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		entries, err := scanFile(p, rel, lim)
		if err != nil {
			return err
		}
		out = append(out, entries...)
		return nil
	})
	return out, err
}

func skipDir(p, name string) bool {
	switch name {
	case "testdata", "vendor", "node_modules":
		return true
	}
	if strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
		return true
	}
	_, err := os.Stat(filepath.Join(p, "go.mod"))
	return err == nil // a nested module is not part of this one
}

func scanFile(p, rel string, lim Limits) ([]Entry, error) {
	src, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, p, src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	if ast.IsGenerated(f) {
		return nil, nil
	}
	var out []Entry
	if n := countLines(src); n > lim.File {
		out = append(out, Entry{Kind: KindFile, File: rel, Lines: n})
	}
	span := func(n ast.Node) int {
		return fset.Position(n.End()).Line - fset.Position(n.Pos()).Line + 1
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if n := span(d); n > lim.Func {
				out = append(out, Entry{Kind: KindFunc, File: rel, Name: funcName(d), Lines: n})
			}
		case *ast.GenDecl:
			// Package-level function literals: var handler = func(...) {...}.
			for _, spec := range d.Specs {
				vs, ok := spec.(*ast.ValueSpec)
				if !ok {
					continue
				}
				for i, v := range vs.Values {
					lit, ok := v.(*ast.FuncLit)
					if !ok || i >= len(vs.Names) {
						continue
					}
					if n := span(lit); n > lim.Func {
						out = append(out, Entry{Kind: KindFunc, File: rel, Name: "var " + vs.Names[i].Name, Lines: n})
					}
				}
			}
		}
	}
	return out, nil
}

func countLines(src []byte) int {
	n := bytes.Count(src, []byte("\n"))
	if len(src) > 0 && src[len(src)-1] != '\n' {
		n++
	}
	return n
}

// funcName renders "Name", "Type.Name" or "(*Type).Name".
func funcName(d *ast.FuncDecl) string {
	if d.Recv == nil || len(d.Recv.List) == 0 {
		return d.Name.Name
	}
	t := d.Recv.List[0].Type
	star := false
	if s, ok := t.(*ast.StarExpr); ok {
		star, t = true, s.X
	}
	switch x := t.(type) { // strip type parameters: T[K, V]
	case *ast.IndexExpr:
		t = x.X
	case *ast.IndexListExpr:
		t = x.X
	}
	typ := "?"
	if id, ok := t.(*ast.Ident); ok {
		typ = id.Name
	}
	if star {
		return "(*" + typ + ")." + d.Name.Name
	}
	return typ + "." + d.Name.Name
}

// Violation is an offender that is not listed (Allowed is zero) or that grew
// past its listed length.
type Violation struct {
	Entry   Entry
	Allowed Entry
}

// Message says what is wrong.
func (v Violation) Message() string {
	if v.Allowed.Lines == 0 {
		return v.Entry.String() + " (new; not on the ratchet list)"
	}
	return fmt.Sprintf("%s (grew: %s was allowed %d)", v.Entry, v.Allowed.Key(), v.Allowed.Lines)
}

// Result is what Compare found.
type Result struct {
	Violations []Violation // new offenders, and listed ones that grew
	Listed     []Entry     // offenders within their allowance (the next allow.txt)
	Tighter    int         // allow entries that shrank, moved or disappeared
}

// Compare checks the offenders found against the allow list. An offender
// matches its exact entry, or else (it moved) an entry of the same kind and
// name elsewhere: for functions the same qualified name in the same package
// directory or, failing that, anywhere; for files the same base name.
func Compare(found []Entry, allow []Entry) Result {
	byKey := map[string]Entry{}
	for _, a := range allow {
		byKey[a.Key()] = a
	}
	used := map[string]bool{}
	var res Result
	for _, f := range found {
		a, ok := byKey[f.Key()]
		if !ok {
			a, ok = moved(f, allow, used)
		}
		if !ok {
			res.Violations = append(res.Violations, Violation{Entry: f})
			continue
		}
		used[a.Key()] = true
		if f.Lines > a.Lines {
			res.Violations = append(res.Violations, Violation{Entry: f, Allowed: a})
			continue
		}
		if f.Lines < a.Lines || f.Key() != a.Key() {
			res.Tighter++
		}
		res.Listed = append(res.Listed, f)
	}
	for _, a := range allow {
		if !used[a.Key()] {
			res.Tighter++
		}
	}
	return res
}

func moved(f Entry, allow []Entry, used map[string]bool) (Entry, bool) {
	var candidates []Entry
	for _, a := range allow {
		if a.Kind != f.Kind || used[a.Key()] {
			continue
		}
		switch f.Kind {
		case KindFile:
			if path.Base(a.File) == path.Base(f.File) {
				candidates = append(candidates, a)
			}
		case KindFunc:
			if a.Name == f.Name {
				candidates = append(candidates, a)
			}
		}
	}
	// Prefer the same directory, then the largest allowance.
	slices.SortStableFunc(candidates, func(x, y Entry) int {
		dx, dy := path.Dir(x.File) == path.Dir(f.File), path.Dir(y.File) == path.Dir(f.File)
		if dx != dy {
			if dx {
				return -1
			}
			return 1
		}
		return y.Lines - x.Lines
	})
	if len(candidates) == 0 {
		return Entry{}, false
	}
	return candidates[0], true
}

const allowHeader = `# lengthcheck ratchet (tools/lengthcheck): functions over 80 lines and files
# over 600 lines that existed when the rule was introduced, with their length
# then. Entries may only shrink or go: the check fails on a new offender or on
# a listed one that grew. Do not add lines by hand; after shrinking code run
#   go run ./tools/lengthcheck -update
# to lower the numbers and drop entries now within the limit.
#
# <lines> func <file> <name>
# <lines> file <file>
`

// LoadAllow reads an allow list; a missing file is an empty list.
func LoadAllow(p string) ([]Entry, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	for ln := 1; sc.Scan(); ln++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseAllowLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", p, ln, err)
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

func parseAllowLine(line string) (Entry, error) {
	fields := strings.Fields(line)
	if len(fields) < 3 {
		return Entry{}, fmt.Errorf("want `<lines> func <file> <name>` or `<lines> file <file>`, got %q", line)
	}
	n, err := strconv.Atoi(fields[0])
	if err != nil || n <= 0 {
		return Entry{}, fmt.Errorf("bad line count %q", fields[0])
	}
	switch Kind(fields[1]) {
	case KindFile:
		if len(fields) != 3 {
			return Entry{}, fmt.Errorf("file entry wants 3 fields, got %q", line)
		}
		return Entry{Kind: KindFile, File: fields[2], Lines: n}, nil
	case KindFunc:
		if len(fields) < 4 {
			return Entry{}, fmt.Errorf("func entry wants a name, got %q", line)
		}
		return Entry{Kind: KindFunc, File: fields[2], Name: strings.Join(fields[3:], " "), Lines: n}, nil
	}
	return Entry{}, fmt.Errorf("unknown kind %q", fields[1])
}

// SaveAllow writes entries sorted by kind, file and name.
func SaveAllow(p string, entries []Entry) error {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b Entry) int {
		return strings.Compare(a.Key(), b.Key())
	})
	var b strings.Builder
	b.WriteString(allowHeader)
	for _, e := range entries {
		if e.Kind == KindFile {
			fmt.Fprintf(&b, "%d file %s\n", e.Lines, e.File)
		} else {
			fmt.Fprintf(&b, "%d func %s %s\n", e.Lines, e.File, e.Name)
		}
	}
	return os.WriteFile(p, []byte(b.String()), 0o644)
}
