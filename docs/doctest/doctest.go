package doctest

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/rogpeppe/go-internal/txtar"
)

// Block is one ```sh block of a markdown file.
type Block struct {
	File      string   // the markdown file
	Line      int      // the line of the opening fence, 1-based
	Console   bool     // a console block: "$ " commands, their output as plain lines
	Flow      string   // the flow it belongs to ("" when not tested)
	NotTested string   // why it is not run ("" when tested)
	Lines     []string // the lines between the fences
}

var (
	markerFlow      = regexp.MustCompile(`^<!--\s*doctest:\s*([a-z0-9-]+)\s*-->$`)
	markerNotTested = regexp.MustCompile(`^<!--\s*not tested:\s*(\S.*?)\s*-->$`)
)

// Blocks returns the ```sh (or ```console) blocks of the markdown file at
// path. A block with neither marker has an empty Flow and NotTested: Unmarked
// reports it. A block of another language holding a "$ " prompt line is an
// error: a command sequence must be labelled sh.
func Blocks(path string) ([]Block, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var (
		blocks   []Block
		cur      *Block // the open sh block
		other    bool   // inside a block of another language
		lastText string // the last non-blank line outside a block
	)
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		fence := strings.HasPrefix(trimmed, "```")
		switch {
		case cur != nil && fence:
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.Lines = append(cur.Lines, line)
		case other && fence:
			other = false
		case other && strings.HasPrefix(trimmed, "$ "):
			return nil, fmt.Errorf("%s:%d: a command sequence in a block that is not labelled sh", path, n)
		case other:
		case trimmed == "```sh" || trimmed == "```console":
			cur = &Block{File: path, Line: n, Console: trimmed == "```console"}
			if m := markerFlow.FindStringSubmatch(lastText); m != nil {
				cur.Flow = m[1]
			} else if m := markerNotTested.FindStringSubmatch(lastText); m != nil {
				cur.NotTested = m[1]
			}
		case fence:
			other = true
		case trimmed != "":
			lastText = trimmed
		}
	}
	if cur != nil || other {
		return nil, fmt.Errorf("%s: a block is not closed", path)
	}
	return blocks, sc.Err()
}

// Unmarked is the error for a block that is neither tested nor says why
// not, nil for the others.
func (b Block) Unmarked() error {
	if b.Flow != "" || b.NotTested != "" {
		return nil
	}
	return fmt.Errorf("%s:%d: a sh block needs <!-- doctest: FLOW --> or <!-- not tested: REASON --> on the line before it", b.File, b.Line)
}

// Step is one command of a block and the output lines the doc shows for it.
type Step struct {
	Line       int      // the command's first line in the markdown file
	Command    string   // shell text, several lines for continuations and here-documents
	Background bool     // the command ends in "&": it runs until the script ends
	Want       []string // expected output lines, without the leading "# "
}

var heredoc = regexp.MustCompile(`<<-?\s*'?"?([A-Za-z_][A-Za-z0-9_]*)'?"?`)

// Steps splits a block into commands and their expected output. In an sh
// block a command is any line but a full-line comment, which is output; in a
// console block a command is a line starting with "$ " and output is any
// other line.
func Steps(b Block) []Step {
	var steps []Step
	lines := b.Lines
	for i := 0; i < len(lines); i++ {
		line := strings.TrimRight(lines[i], " \t")
		trimmed := strings.TrimSpace(line)
		want, isOutput := "", false
		switch {
		case trimmed == "":
			continue
		case b.Console && !strings.HasPrefix(line, "$ "):
			want, isOutput = trimmed, true
		case !b.Console && strings.HasPrefix(trimmed, "#"):
			want, isOutput = strings.TrimSpace(strings.TrimPrefix(trimmed, "#")), true
		case b.Console:
			line = strings.TrimPrefix(line, "$ ")
		}
		if isOutput {
			if len(steps) > 0 && want != "" {
				steps[len(steps)-1].Want = append(steps[len(steps)-1].Want, want)
			}
			continue
		}
		st := Step{Line: b.Line + 1 + i}
		cmd := []string{line}
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = strings.TrimRight(lines[i], " \t")
			cmd = append(cmd, line)
		}
		if m := heredoc.FindStringSubmatch(strings.Join(cmd, "\n")); m != nil {
			for i+1 < len(lines) {
				i++
				cmd = append(cmd, lines[i])
				if strings.TrimSpace(lines[i]) == m[1] {
					break
				}
			}
		}
		st.Command = strings.Join(cmd, "\n")
		if strings.HasSuffix(strings.TrimSpace(st.Command), "&") && !strings.HasSuffix(strings.TrimSpace(st.Command), "&&") {
			st.Background = true
			st.Command = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(st.Command), "&"))
		}
		steps = append(steps, st)
	}
	return steps
}

// WantRegexp turns a doc output line into the pattern the command's output
// must contain: "…" matches any text, a run of white space any white space.
func WantRegexp(want string) string {
	var out strings.Builder
	for i, part := range strings.Split(want, "…") {
		if i > 0 {
			out.WriteString(`.*`)
		}
		for j, word := range strings.Fields(part) {
			if j > 0 {
				out.WriteString(`\s+`)
			}
			out.WriteString(regexp.QuoteMeta(word))
		}
	}
	return out.String()
}

// ExpectsFailure says whether the doc shows the command failing.
func (s Step) ExpectsFailure() bool {
	return len(s.Want) > 0 && (strings.HasPrefix(s.Want[0], "Error") || strings.HasPrefix(s.Want[0], `{"error"`))
}

// stepPrologue and stepEpilogue carry the environment (every assignment is
// exported: set -a) and the working directory from one command to the next.
const (
	stepPrologue = "set -a\n[ -f \"$WORK/.doc/env\" ] && . \"$WORK/.doc/env\"\nexec 2>&1\n"
	stepEpilogue = "\nrc=$?\nmkdir -p \"$WORK/.doc\"\n{ export -p; echo \"cd '$(pwd)'\"; } > \"$WORK/.doc/env\"\nexit $rc\n"
)

// Script is the testscript of one flow: the prelude's script and files,
// then one exec per command (each command in its own sh file of the
// archive), then a stdout pattern per expected output line.
func Script(prelude []byte, blocks []Block) []byte {
	ar := txtar.Parse(prelude)
	var script strings.Builder
	script.Write(ar.Comment)
	n := 0
	for _, b := range blocks {
		for _, st := range Steps(b) {
			n++
			name := fmt.Sprintf("doc/%03d.sh", n)
			fmt.Fprintf(&script, "\n# %s:%d\n", b.File, st.Line)
			if st.Background {
				// A simple command replaces the shell, so that the script's
				// end stops it; a compound one, "( … )", runs under it.
				run := "exec "
				if strings.HasPrefix(st.Command, "(") || strings.HasPrefix(st.Command, "{") {
					run = ""
				}
				body := "set -a\n[ -f \"$WORK/.doc/env\" ] && . \"$WORK/.doc/env\"\n" + run + st.Command + "\n"
				ar.Files = append(ar.Files, txtar.File{Name: name, Data: []byte(body)})
				fmt.Fprintf(&script, "exec sh %s &bg%03d&\n", name, n)
				continue
			}
			body := stepPrologue + st.Command + stepEpilogue
			ar.Files = append(ar.Files, txtar.File{Name: name, Data: []byte(body)})
			if st.ExpectsFailure() {
				script.WriteString("! ")
			}
			fmt.Fprintf(&script, "exec sh %s\n", name)
			for _, w := range st.Want {
				fmt.Fprintf(&script, "stdout '%s'\n", strings.ReplaceAll(WantRegexp(w), "'", "''"))
			}
		}
	}
	ar.Comment = []byte(script.String())
	return txtar.Format(ar)
}
