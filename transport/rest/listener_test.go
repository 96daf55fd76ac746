package rest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dialFrom connects to addr from the loopback address src (127.0.0.0/8 is
// all local on Linux).
func dialFrom(t testing.TB, src, addr string) net.Conn {
	t.Helper()
	c, err := dialFromErr(src, addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	return c
}

func dialFromErr(src, addr string) (net.Conn, error) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return d.Dial("tcp", addr)
}

// closedQuickly reports whether the server closed c (reset or EOF) without
// sending anything, within d. A refused connection may also fail to dial
// (err): on loopback the reset can beat connect's return.
func closedQuickly(c net.Conn, err error, d time.Duration) bool {
	if err != nil {
		return errors.Is(err, syscall.ECONNRESET)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(d))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	return n == 0 && err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// The listener resets connections over either cap at once, frees a slot
// when a connection closes, and counts per IP.
func TestLimitListenerCaps(t *testing.T) {
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan string, 100)
	ln := newLimitListener(tcp, 5, 3, nil, func(r string) { refused <- r })
	defer ln.Close()
	accepted := make(chan net.Conn, 100)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	addr := tcp.Addr().String()
	next := func(what string) net.Conn {
		t.Helper()
		select {
		case c := <-accepted:
			return c
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: not accepted", what)
		}
		return nil
	}
	wantRefused := func(what, reason string, c net.Conn, err error) {
		t.Helper()
		select {
		case r := <-refused:
			if r != reason {
				t.Errorf("%s: refused for %s, want %s", what, r, reason)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: not refused", what)
		}
		if !closedQuickly(c, err, 5*time.Second) {
			t.Errorf("%s: the refused connection is still open (%v)", what, err)
		}
	}
	var server []net.Conn
	for range 3 {
		dialFrom(t, "127.0.0.1", addr)
		server = append(server, next("127.0.0.1 within its cap"))
	}
	c, err := dialFromErr("127.0.0.1", addr)
	wantRefused("4th from 127.0.0.1", refusedPerIP, c, err)
	for range 2 {
		dialFrom(t, "127.0.0.2", addr)
		server = append(server, next("127.0.0.2 within the cap"))
	}
	c, err = dialFromErr("127.0.0.3", addr)
	wantRefused("6th in total", refusedTotal, c, err)
	if n := ln.Open(); n != 5 {
		t.Fatalf("open %d, want 5", n)
	}
	// Closing one (twice: counted once) frees one slot for anyone.
	server[0].Close()
	server[0].Close()
	if n := ln.Open(); n != 4 {
		t.Fatalf("open after a close %d, want 4", n)
	}
	dialFrom(t, "127.0.0.3", addr)
	next("127.0.0.3 after a slot was freed")
	c, err = dialFromErr("127.0.0.4", addr)
	wantRefused("over the cap again", refusedTotal, c, err)
}

func TestClientKey(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("127.0.0.2"), Port: 1}, "127.0.0.2"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:10.0.0.1"), Port: 1}, "10.0.0.1"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:3:4:5:6"), Port: 1}, "2001:db8:1:2::/64"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:ffff::1"), Port: 1}, "2001:db8:1:2::/64"},
	} {
		if got := clientKey(c.addr); got != c.want {
			t.Errorf("clientKey(%s) = %q, want %q", c.addr, got, c.want)
		}
	}
}

// Issue 10 (metrics): Prometheus metrics are served on their own address,
// never on the REST one, and the default keeps them on loopback.
func TestMetricsOnTheirOwnAddress(t *testing.T) {
	if host, _, _ := net.SplitHostPort(DefaultConfig().MetricsListenAddress); host != "127.0.0.1" {
		t.Errorf("default metrics address %q is not loopback", DefaultConfig().MetricsListenAddress)
	}
	cfg := DefaultConfig()
	cfg.ListenAddress = "127.0.0.1:0"
	cfg.MetricsListenAddress = "127.0.0.1:0"
	g, err := New(&memBackend{}, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer g.Shutdown(context.Background())
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if g.MetricsAddr() == "" || g.MetricsAddr() == g.Addr() {
		t.Fatalf("metrics address %q, REST address %q", g.MetricsAddr(), g.Addr())
	}
	if code, body := get(g.URL() + "/metrics"); code != http.StatusNotFound || !strings.Contains(body, "NO_ROUTE") {
		t.Errorf("GET /metrics on the REST address: %d %s", code, body)
	}
	code, body := get(g.MetricsURL())
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d", g.MetricsURL(), code)
	}
	for _, want := range []string{"dstt_rest_open_connections", `dstt_rest_connections_refused_total{reason="max_connections_per_ip"} 0`, "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The metrics address serves nothing else.
	if code, _ := get("http://" + g.MetricsAddr() + "/v1/status"); code != http.StatusNotFound {
		t.Errorf("GET /v1/status on the metrics address: %d", code)
	}
	// Off means off.
	cfg.MetricsListenAddress = "off"
	g2, err := New(&memBackend{}, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := g2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer g2.Shutdown(context.Background())
	if g2.MetricsURL() != "" {
		t.Errorf("metrics off, yet served at %s", g2.MetricsURL())
	}
}

// TestRateLimitKeyedByNetwork: the per-client rate limit counts an IPv6
// client by its /64, as the connection caps and the refusal log do, so a
// client cannot multiply its budget, or the limiter's buckets, by using
// more addresses of its /64. Certificate clients are keyed by certificate.
func TestRateLimitKeyedByNetwork(t *testing.T) {
	req := func(remote string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/v1/status", nil)
		r.RemoteAddr = remote
		return r
	}
	l := newClientLimiter(0.001, 1)
	if ok, _ := l.allow(rateKey(ClientIdentity(req("[2001:db8:1:2::1]:4000")))); !ok {
		t.Fatal("the first request was refused")
	}
	for _, a := range []string{"[2001:db8:1:2::2]:4000", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:4001"} {
		if ok, _ := l.allow(rateKey(ClientIdentity(req(a)))); ok {
			t.Errorf("%s, in the same /64, has a budget of its own", a)
		}
	}
	for _, a := range []string{"[2001:db8:1:3::1]:4000", "192.0.2.1:4000", "192.0.2.2:4000"} {
		if ok, _ := l.allow(rateKey(ClientIdentity(req(a)))); !ok {
			t.Errorf("%s, another client, was refused", a)
		}
	}
	if n := len(l.clients); n != 4 {
		t.Errorf("%d buckets, want 4", n)
	}
}

// TestRateLimiterBucketsBounded: clients from ever new networks cannot
// grow the limiter's buckets beyond its cap; newcomers beyond it share one
// bucket (rate-limited together) until buckets are dropped.
func TestRateLimiterBucketsBounded(t *testing.T) {
	l := newClientLimiter(0.001, 1)
	l.maxClients = 3
	for i := range 3 {
		if ok, _ := l.allow(fmt.Sprintf("ip:192.0.2.%d", i)); !ok {
			t.Fatalf("client %d refused", i)
		}
	}
	if ok, _ := l.allow("ip:198.51.100.1"); !ok {
		t.Fatal("the first newcomer beyond the cap was refused")
	}
	if ok, _ := l.allow("ip:198.51.100.2"); ok {
		t.Error("a second newcomer beyond the cap has a bucket of its own")
	}
	if n := len(l.clients); n > l.maxClients+1 {
		t.Errorf("%d buckets, cap %d", n, l.maxClients)
	}
}
