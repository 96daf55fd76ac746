package pgtest

import (
	"bytes"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"

	"github.com/dstt/dstt/testnet/freeport"
)

// EnvRequire makes a missing PostgreSQL a test failure instead of a skip.
const EnvRequire = "DSTT_REQUIRE_POSTGRES"

// Cluster is a running PostgreSQL cluster owned by one test.
type Cluster struct {
	// Dir is the data directory.
	Dir string
	// Port is the TCP port on 127.0.0.1.
	Port int

	t      testing.TB
	binDir string
	asUser string // "" = the current user
}

// DSN is a pgx connection string for database db as the superuser.
func (c *Cluster) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// BinDir returns the directory holding initdb and pg_ctl, or "" when
// PostgreSQL is not installed.
func BinDir() string {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := exec.LookPath("initdb"); err == nil {
			return filepath.Dir(p)
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	return ""
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// requireBinDir returns BinDir or skips (fails under $DSTT_REQUIRE_POSTGRES).
func requireBinDir(t testing.TB) string {
	t.Helper()
	if d := BinDir(); d != "" {
		return d
	}
	bar := strings.Repeat("!", 78)
	msg := fmt.Sprintf("\n%s\n!!! NO POSTGRESQL: this test needs a real PostgreSQL (initdb, pg_ctl).\n"+
		"!!! Looked on $PATH and under /usr/lib/postgresql/*/bin.\n"+
		"!!! Install it with `make test-deps` (Debian's postgresql package).\n%s", bar, bar)
	if os.Getenv(EnvRequire) != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Start initialises and starts a cluster with database "postgres"; it is
// stopped and removed when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a real PostgreSQL cluster")
	}
	c := &Cluster{t: t, binDir: requireBinDir(t)}
	parent, err := os.MkdirTemp("", "dstt-pgtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	c.Dir = filepath.Join(parent, "data")
	if os.Geteuid() == 0 {
		c.asUser = "postgres"
		if err := chownTo(parent, c.asUser); err != nil {
			t.Fatalf("pgtest: running as root, so the cluster runs as %q: %v", c.asUser, err)
		}
	}
	c.run("initdb", "-D", c.Dir, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	c.start(parent)
	t.Cleanup(c.stop)
	return c
}

// start picks a free port and starts the server, trying again when
// another process took the port in between.
func (c *Cluster) start(parent string) {
	c.t.Helper()
	var last string
	for range 3 {
		c.Port = freeport.Port(c.t)
		opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=50", c.Port, c.Dir)
		out, err := c.cmd("pg_ctl", "-D", c.Dir, "-l", filepath.Join(parent, "server.log"), "-w", "-t", "60", "-o", opts, "start").CombinedOutput()
		if err == nil {
			return
		}
		log, _ := os.ReadFile(filepath.Join(parent, "server.log"))
		last = fmt.Sprintf("%v: %s\n%s", err, out, log)
		if !bytes.Contains(log, []byte("in use")) {
			break
		}
	}
	c.t.Fatalf("pgtest: pg_ctl start: %s", last)
}

func (c *Cluster) stop() {
	if out, err := c.cmd("pg_ctl", "-D", c.Dir, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
		c.t.Errorf("pgtest: pg_ctl stop: %v: %s", err, out)
	}
}

func (c *Cluster) cmd(name string, args ...string) *exec.Cmd {
	bin := filepath.Join(c.binDir, name)
	if c.asUser == "" {
		return exec.Command(bin, args...)
	}
	return exec.Command("runuser", append([]string{"-u", c.asUser, "--", bin}, args...)...)
}

func (c *Cluster) run(name string, args ...string) {
	c.t.Helper()
	if out, err := c.cmd(name, args...).CombinedOutput(); err != nil {
		c.t.Fatalf("pgtest: %s: %v: %s", name, err, out)
	}
}

func chownTo(dir, name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

// Open connects to database db through database/sql (driver pgx); the
// handle is closed when the test ends.
func (c *Cluster) Open(db string) *sql.DB {
	c.t.Helper()
	h, err := sql.Open("pgx", c.DSN(db))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { h.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := h.Ping()
		if err == nil {
			return h
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("pgtest: connect %s: %v", c.DSN(db), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// CreateDatabase creates database name.
func (c *Cluster) CreateDatabase(name string) {
	c.t.Helper()
	if _, err := c.Open("postgres").Exec("CREATE DATABASE " + name); err != nil {
		c.t.Fatalf("pgtest: create database %s: %v", name, err)
	}
}
