package doctest

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

func TestSteps(t *testing.T) {
	b := Block{File: "x.md", Line: 10, Lines: strings.Split(`./dstt tx put a b
# committed tx … at height 2

cat > f.json <<'EOF'
{"a": 1}
EOF
long \
  --flag
# Error: tx … failed (code 9 CONFLICT)
server --x &`, "\n")}
	steps := Steps(b)
	if len(steps) != 4 {
		t.Fatalf("got %d steps: %+v", len(steps), steps)
	}
	if steps[0].Line != 11 || steps[0].Command != "./dstt tx put a b" || len(steps[0].Want) != 1 || steps[0].ExpectsFailure() {
		t.Errorf("step 0: %+v", steps[0])
	}
	if !strings.HasSuffix(steps[1].Command, "\nEOF") || len(steps[1].Want) != 0 {
		t.Errorf("here-document not kept whole: %q", steps[1].Command)
	}
	if steps[2].Command != "long \\\n  --flag" || !steps[2].ExpectsFailure() {
		t.Errorf("continuation or failure: %+v", steps[2])
	}
	if !steps[3].Background || strings.Contains(steps[3].Command, "&") {
		t.Errorf("background: %+v", steps[3])
	}
}

func TestWantRegexp(t *testing.T) {
	re := regexp.MustCompile(WantRegexp(`committed tx … at height 2 (code 0)`))
	if !re.MatchString("committed   tx ABC at\theight 2 (code 0)") {
		t.Error("white space or ellipsis not matched")
	}
	if re.MatchString("committed tx ABC at height 3 (code 0)") {
		t.Error("a different height matched")
	}
}

// recorder is a testscript.T that records a failure instead of failing.
type recorder struct {
	failed bool
	log    strings.Builder
}

func (r *recorder) Skip(...any)       { panic("doctest: unexpected skip") }
func (r *recorder) Parallel()         {}
func (r *recorder) Verbose() bool     { return false }
func (r *recorder) Log(args ...any)   { fmt.Fprintln(&r.log, args...) }
func (r *recorder) Fatal(args ...any) { r.Log(args...); r.FailNow() }
func (r *recorder) FailNow()          { r.failed = true; runtime.Goexit() }
func (r *recorder) Run(_ string, f func(testscript.T)) {
	done := make(chan struct{})
	go func() { defer close(done); f(r) }()
	<-done
}

// TestScriptCatchesWrongDocs: a doc whose output, or whose exit status,
// differs from what the command does fails its flow.
func TestScriptCatchesWrongDocs(t *testing.T) {
	cases := map[string]struct {
		lines []string
		fail  bool
	}{
		"right output":         {[]string{"echo hello big world", "# hello … world"}, false},
		"wrong output":         {[]string{"echo hello", "# goodbye"}, true},
		"unexpected failure":   {[]string{"false"}, true},
		"failure not shown":    {[]string{"echo fine", "# Error: fine"}, true},
		"expected failure":     {[]string{"echo Error: no >&2; exit 1", "# Error: no"}, false},
		"env and cwd carry on": {[]string{"export A=1; mkdir d; cd d", "echo $A $(basename $(pwd))", "# 1 d"}, false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			script := Script(nil, []Block{{File: "x.md", Line: 1, Flow: "x", Lines: c.lines}})
			if err := os.WriteFile(filepath.Join(dir, "x.txtar"), script, 0o644); err != nil {
				t.Fatal(err)
			}
			var r recorder
			testscript.RunT(&r, testscript.Params{Dir: dir})
			if r.failed != c.fail {
				t.Errorf("failed = %v, want %v; script:\n%s\nlog:\n%s", r.failed, c.fail, script, r.log.String())
			}
		})
	}
}

func TestConsoleSteps(t *testing.T) {
	b := Block{File: "x.md", Line: 1, Console: true, Lines: []string{
		`$ vault policy write p - <<'EOF'`,
		`path "a" { capabilities = ["read"] }   # a comment inside`,
		`EOF`,
		`Success! Uploaded policy: p`,
		`$ dstt keys show a`,
		`# not a comment: output`,
		`$ false`,
	}}
	steps := Steps(b)
	if len(steps) != 3 {
		t.Fatalf("got %d steps: %+v", len(steps), steps)
	}
	if !strings.HasPrefix(steps[0].Command, "vault policy write") || !strings.HasSuffix(steps[0].Command, "\nEOF") ||
		len(steps[0].Want) != 1 || steps[0].Want[0] != "Success! Uploaded policy: p" {
		t.Errorf("step 0: %+v", steps[0])
	}
	if steps[1].Command != "dstt keys show a" || len(steps[1].Want) != 1 || steps[1].Want[0] != "# not a comment: output" {
		t.Errorf("step 1: %+v", steps[1])
	}
}

// A background command replaces its shell (the script's end stops it), but
// a compound one cannot: it runs under the shell.
func TestBackgroundCompound(t *testing.T) {
	b := Block{File: "x.md", Line: 1, Lines: []string{"server --x &", "(sleep 1; unseal) > u.log &"}}
	script := string(Script(nil, []Block{b}))
	if !strings.Contains(script, "\nexec server --x\n") || !strings.Contains(script, "\n(sleep 1; unseal) > u.log\n") || strings.Contains(script, "exec (") {
		t.Errorf("background commands:\n%s", script)
	}
}
