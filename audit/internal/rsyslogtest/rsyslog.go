package rsyslogtest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/dstt/dstt/testnet/freeport"
	"github.com/dstt/dstt/testnet/testca"
)

// Receiver is a running rsyslogd.
type Receiver struct {
	t    testing.TB
	bin  string
	Dir  string
	conf string
	cmd  *exec.Cmd
	exit chan error

	TCPAddr, TLSAddr, MTLSAddr string // host:port of each input
	TCPFile, TLSFile, MTLSFile string // where each input writes
	CAFile                     string // the test CA (PEM)
	ClientCert, ClientKey      string // a client certificate the mTLS input accepts
}

// Binary returns rsyslogd's path, or "" if it is not installed.
func Binary() string {
	for _, p := range []string{"rsyslogd", "/usr/sbin/rsyslogd", "/sbin/rsyslogd"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	return ""
}

// SkipIfMissing skips t, loudly, when rsyslogd is not installed.
func SkipIfMissing(t testing.TB) string {
	t.Helper()
	bin := Binary()
	if bin == "" {
		msg := "\n" + strings.Repeat("!", 78) + "\n!!! rsyslogd NOT INSTALLED: SKIPPING the real-SIEM-receiver test " + t.Name() +
			"\n!!! run `make test-deps` (apt-get install rsyslog rsyslog-gnutls rsyslog-openssl)\n" + strings.Repeat("!", 78)
		fmt.Fprintln(os.Stderr, msg)
		t.Skip(msg)
	}
	return bin
}

// Start starts rsyslogd with the three inputs; it is stopped at cleanup.
func Start(t testing.TB) *Receiver {
	t.Helper()
	bin := SkipIfMissing(t)
	dir := t.TempDir()
	r := &Receiver{t: t, bin: bin, Dir: dir}
	r.writeCerts()
	ports := freeport.Ports(t, 3)
	r.TCPAddr = fmt.Sprintf("127.0.0.1:%d", ports[0])
	r.TLSAddr = fmt.Sprintf("127.0.0.1:%d", ports[1])
	r.MTLSAddr = fmt.Sprintf("127.0.0.1:%d", ports[2])
	r.TCPFile, r.TLSFile, r.MTLSFile = filepath.Join(dir, "tcp.log"), filepath.Join(dir, "tls.log"), filepath.Join(dir, "mtls.log")
	os.MkdirAll(filepath.Join(dir, "work"), 0o700)
	r.conf = filepath.Join(dir, "rsyslog.conf")
	conf := fmt.Sprintf(`global(workDirectory="%[1]s/work" maxMessageSize="64k"
       defaultNetstreamDriverCAFile="%[1]s/ca.pem"
       defaultNetstreamDriverCertFile="%[1]s/server.pem"
       defaultNetstreamDriverKeyFile="%[1]s/server.key")
module(load="imtcp" maxSessions="100")
template(name="raw" type="string" string="%%rawmsg%%\n")
input(type="imtcp" address="127.0.0.1" port="%[2]d" ruleset="tcp")
input(type="imtcp" address="127.0.0.1" port="%[3]d" ruleset="tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imtcp" address="127.0.0.1" port="%[4]d" ruleset="mtls"
      streamDriver.name="ossl" streamDriver.mode="1" streamDriver.authMode="x509/certvalid")
ruleset(name="tcp"){ action(type="omfile" file="%[5]s" template="raw") }
ruleset(name="tls"){ action(type="omfile" file="%[6]s" template="raw") }
ruleset(name="mtls"){ action(type="omfile" file="%[7]s" template="raw") }
`, dir, ports[0], ports[1], ports[2], r.TCPFile, r.TLSFile, r.MTLSFile)
	if err := os.WriteFile(r.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-N1", "-f", r.conf).CombinedOutput(); err != nil {
		t.Fatalf("rsyslogd -N1 rejects the config: %v\n%s", err, out)
	}
	r.Restart()
	t.Cleanup(r.Stop)
	return r
}

// Restart starts rsyslogd (again) with the same config and ports and
// waits until every input accepts connections.
func (r *Receiver) Restart() {
	r.t.Helper()
	if r.cmd != nil {
		r.t.Fatal("rsyslogtest: Restart while running")
	}
	pid := filepath.Join(r.Dir, "rsyslogd.pid")
	os.Remove(pid)
	cmd := exec.Command(r.bin, "-n", "-f", r.conf, "-i", pid)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.cmd, r.exit = cmd, make(chan error, 1)
	go func() { r.exit <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for _, a := range []string{r.TCPAddr, r.TLSAddr, r.MTLSAddr} {
		for {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
				break
			}
			select {
			case err := <-r.exit:
				r.t.Fatalf("rsyslogd exited: %v\n%s", err, out.String())
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				r.t.Fatalf("rsyslogd not listening on %s after 15s:\n%s", a, out.String())
			}
		}
	}
}

// Stop stops rsyslogd with SIGTERM (it writes out what it queued) and
// waits for it to exit.
func (r *Receiver) Stop() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exit:
	case <-time.After(20 * time.Second):
		r.cmd.Process.Kill()
		<-r.exit
	}
	r.cmd = nil
}

// ReadLines returns the complete lines of file (none if it does not exist).
func ReadLines(file string) []string {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[:i+1]
	} else {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// LineCounter counts the lines of a growing file without rereading it.
type LineCounter struct {
	path  string
	off   int64
	lines int
	buf   []byte
}

// NewLineCounter counts the lines of path from its current end.
func NewLineCounter(path string) *LineCounter {
	c := &LineCounter{path: path, buf: make([]byte, 1<<20)}
	if st, err := os.Stat(path); err == nil {
		c.off = st.Size()
	}
	return c
}

// Count reads what was appended and returns the lines counted so far.
func (c *LineCounter) Count() int {
	f, err := os.Open(c.path)
	if err != nil {
		return c.lines
	}
	defer f.Close()
	for {
		n, err := f.ReadAt(c.buf, c.off)
		c.lines += bytes.Count(c.buf[:n], []byte{'\n'})
		c.off += int64(n)
		if err != nil || n == 0 {
			return c.lines
		}
	}
}

// WaitLines waits (polling, up to timeout) until file has at least n
// complete lines, and returns them.
func WaitLines(t testing.TB, file string, n int, timeout time.Duration) []string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	c := &LineCounter{path: file, buf: make([]byte, 1<<20)}
	for c.Count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d lines after %v, want %d", file, c.Count(), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ReadLines(file)
}

// ClientTLS returns a TLS config trusting the test CA, with the client
// certificate when mutual is true.
func (r *Receiver) ClientTLS(mutual bool) *tls.Config {
	pool := x509.NewCertPool()
	ca, _ := os.ReadFile(r.CAFile)
	pool.AppendCertsFromPEM(ca)
	c := &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if mutual {
		cert, err := tls.LoadX509KeyPair(r.ClientCert, r.ClientKey)
		if err != nil {
			r.t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c
}

// writeCerts makes a CA, a server certificate for 127.0.0.1 and a client
// certificate, all signed by the CA, as PEM files in r.Dir.
func (r *Receiver) writeCerts() {
	ca := testca.New(r.t)
	r.CAFile = testca.WriteFile(r.t, r.Dir, "ca.pem", ca.PEM)
	cert, key := ca.Issue(r.t, "127.0.0.1", true)
	testca.WriteFile(r.t, r.Dir, "server.pem", cert)
	testca.WriteFile(r.t, r.Dir, "server.key", key)
	cert, key = ca.Issue(r.t, "dstt-node", false)
	r.ClientCert = testca.WriteFile(r.t, r.Dir, "client.pem", cert)
	r.ClientKey = testca.WriteFile(r.t, r.Dir, "client.key", key)
}
