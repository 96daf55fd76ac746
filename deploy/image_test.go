package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// podmanFlags keep the test's images and containers in its own temp storage (vfs
// works in any container; runc copes with hybrid cgroups, where crun does not) and
// set the limits the container gets explicitly (podman's defaults exceed what some
// hosts allow a process).
func podmanFlags(dir string) []string {
	return []string{"--root", filepath.Join(dir, "root"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs", "--runtime", "runc"}
}

func requirePodman(t *testing.T) {
	t.Helper()
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range []string{"podman", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("DSTT_REQUIRE_PODMAN") != "" {
		t.Fatalf("the image test needs %s (make test-deps installs podman and runc; run as root)", strings.Join(missing, ", "))
	}
	t.Skipf("the image test needs %s", strings.Join(missing, ", "))
}

// TestImage builds deploy/Containerfile with podman from a static build of cmd/dstt,
// starts a node from the image (a one-node dev chain in a home on a volume owned by
// 10001:10001) and checks that it commits a tx and that the files it wrote belong to
// uid 10001, not root.
func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds dstt and an image")
	}
	requirePodman(t)
	dir := t.TempDir()
	ctx := filepath.Join(dir, "ctx")
	if err := os.MkdirAll(ctx, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(ctx, "dstt"), "../cmd/dstt")
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // static: the image has no libc
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	podman := func(args ...string) (string, error) {
		out, err := exec.Command("podman", append(podmanFlags(dir), args...)...).CombinedOutput()
		return string(out), err
	}
	image := "localhost/dstt-test:latest"
	if out, err := podman("build", "-q", "-t", image, "-f", "Containerfile", ctx); err != nil {
		t.Fatalf("podman build: %v\n%s", err, out)
	}
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, 10001, 10001); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("dstt-test-%d", os.Getpid())
	t.Cleanup(func() {
		_, _ = podman("rm", "-f", "-t", "5", name)
		_, _ = podman("rmi", "-f", image)
		_ = os.RemoveAll(dir) // vfs layers may hold files t.TempDir cannot remove unaided
	})
	if out, err := podman("run", "-d", "--name", name, "--network", "none",
		"--ulimit", "nofile=16384:16384", "--ulimit", "nproc=30000:30000",
		"-v", home+":/var/lib/dstt", image, "start", "--dev"); err != nil {
		t.Fatalf("podman run: %v\n%s", err, out)
	}
	// The node's own CLI, inside the container (there is no shell), submits a tx.
	var last string
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := podman("exec", name, "/usr/local/bin/dstt", "tx", "put", "greeting", "hello from the image")
		if err == nil && strings.Contains(out, "committed tx") {
			t.Logf("%s", strings.TrimSpace(out))
			break
		}
		last = out
		if time.Now().After(deadline) {
			logs, _ := podman("logs", name)
			t.Fatalf("no commit from the container's node after 90s: %s\nnode log:\n%s", last, logs)
		}
		time.Sleep(500 * time.Millisecond) // poll: the node is starting in the container
	}
	var st syscall.Stat_t
	if err := syscall.Stat(filepath.Join(home, "config", "genesis.json"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Uid != 10001 {
		t.Fatalf("the node wrote its home as uid %d, want 10001 (non-root)", st.Uid)
	}
	if out, err := podman("inspect", "--format", "{{.Config.User}}", name); err != nil || strings.TrimSpace(out) != "10001:10001" {
		t.Fatalf("container user %q (%v), want 10001:10001", out, err)
	}
}
