package types_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedCodeMatchesProto: types/*.pb.go is what protoc and the
// pinned gogoproto plugin make from proto/ (the generated code is
// committed; `make proto` regenerates it). Needs protoc; `make test`
// installs it and sets DSTT_REQUIRE_PROTOC, so there a missing protoc
// fails instead of skipping.
func TestGeneratedCodeMatchesProto(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the protoc plugin")
	}
	protoc, err := exec.LookPath("protoc")
	if err != nil {
		if os.Getenv("DSTT_REQUIRE_PROTOC") != "" {
			t.Fatal("protoc is missing (apt-get install protobuf-compiler; make test-deps does)")
		}
		t.Skip("protoc is not installed")
	}
	dir := t.TempDir()
	plugin := filepath.Join(dir, "protoc-gen-gocosmos")
	if out, err := exec.Command("go", "build", "-o", plugin, "github.com/cosmos/gogoproto/protoc-gen-gocosmos").CombinedOutput(); err != nil {
		t.Fatalf("build the plugin: %v\n%s", err, out)
	}
	gogo, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/cosmos/gogoproto").Output()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	protos, _ := filepath.Glob("../proto/dstt/v1/*.proto")
	args := append([]string{"-I", "../proto", "-I", strings.TrimSpace(string(gogo)),
		"--plugin=protoc-gen-gocosmos=" + plugin,
		"--gocosmos_out=plugins=grpc,paths=source_relative:" + out}, protos...)
	if b, err := exec.Command(protoc, args...).CombinedOutput(); err != nil {
		t.Fatalf("protoc: %v\n%s", err, b)
	}
	gen, _ := filepath.Glob(filepath.Join(out, "dstt", "v1", "*.pb.go"))
	if len(gen) == 0 {
		t.Fatal("protoc generated nothing")
	}
	for _, g := range gen {
		want, _ := os.ReadFile(g)
		have, err := os.ReadFile(filepath.Base(g))
		if err != nil || !bytes.Equal(have, want) {
			t.Errorf("types/%s does not match proto/ (run make proto and commit the result)", filepath.Base(g))
		}
	}
}
