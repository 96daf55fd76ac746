// Package pgtest starts a real PostgreSQL cluster for tests: initdb into a
// fresh temp directory, pg_ctl start on a free 127.0.0.1 port (no Unix
// socket outside that directory), trust authentication for the superuser
// "postgres", and pg_ctl stop -m immediate plus removal of the directory
// when the test ends. Each call to Start is its own cluster, so tests can
// run several side by side (one per simulated organisation).
//
// PostgreSQL refuses to run as root. When the test process is root, the
// cluster directory is handed to the system user "postgres" (created by
// Debian's postgresql package) and initdb, pg_ctl and pg_isready run
// through runuser -u postgres; otherwise they run as the current user.
//
// The binaries are looked up on $PATH, then under
// /usr/lib/postgresql/*/bin (where Debian installs them), newest first.
// `make test-deps` installs them. When they are missing Start skips the
// test with a loud message, or fails it when $DSTT_REQUIRE_POSTGRES is set
// (`make test` sets it), so a machine without PostgreSQL cannot pass CI
// by skipping. Product code never imports this package.
package pgtest
