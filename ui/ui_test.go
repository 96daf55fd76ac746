package ui

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// buildStamp is build.json: the sources the committed build was made from
// and the files it produced, each with its SHA-256 (vite.config.ts).
type buildStamp struct {
	Sources map[string]string `json:"sources"`
	Dist    map[string]string `json:"dist"`
}

const fixHint = "the committed explorer build does not match its sources: run `npm ci && npm run build` in ui/ and commit ui/dist and ui/build.json"

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// TestBuildMatchesSources recomputes the SHA-256 of every source the
// committed build records and of every embedded file: a source changed
// without a rebuild, a file added to or removed from dist, or a hand-edited
// build fails. (make test-ui also rebuilds and compares byte for byte.)
func TestBuildMatchesSources(t *testing.T) {
	raw, err := os.ReadFile("build.json")
	if err != nil {
		t.Fatalf("%v: %s", err, fixHint)
	}
	var st buildStamp
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("build.json: %v", err)
	}
	for _, must := range []string{"ui/src/main.ts", "ui/package-lock.json", "sdk/ts/src/client.ts"} {
		if _, ok := st.Sources[must]; !ok {
			t.Errorf("build.json lists no %s among the sources", must)
		}
	}
	for path, want := range st.Sources {
		b, err := os.ReadFile(filepath.Join("..", filepath.FromSlash(path)))
		if err != nil {
			t.Errorf("source %s: %v; %s", path, err, fixHint)
			continue
		}
		if got := sha256Hex(b); got != want {
			t.Errorf("source %s changed since the build (sha256 %s, built from %s); %s", path, got, want, fixHint)
		}
	}
	var embedded []string
	err = fs.WalkDir(Dist, "dist", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel := strings.TrimPrefix(path, "dist/")
		embedded = append(embedded, rel)
		b, err := Dist.ReadFile(path)
		if err != nil {
			return err
		}
		want, ok := st.Dist[rel]
		switch {
		case !ok:
			t.Errorf("dist/%s is not a file of the build; %s", rel, fixHint)
		case sha256Hex(b) != want:
			t.Errorf("dist/%s differs from what the build produced; %s", rel, fixHint)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for rel := range st.Dist {
		if !slices.Contains(embedded, rel) {
			t.Errorf("dist/%s, a file of the build, is missing; %s", rel, fixHint)
		}
	}
	if !slices.Contains(embedded, "index.html") {
		t.Errorf("no dist/index.html")
	}
}
