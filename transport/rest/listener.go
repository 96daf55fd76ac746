package rest

import (
	"net"
	"sync"
)

// Reasons a connection is refused, as the metrics' reason label.
const (
	refusedTotal = "max_open_connections"
	refusedPerIP = "max_connections_per_ip"
)

// limitListener caps the open connections it hands out, in total and per
// client IP (an IPv6 client by its /64). Unlike netutil.LimitListener,
// which stops accepting (and so leaves new connections queued in the
// kernel, holding the client), a connection over a cap is accepted and
// reset at once: the client learns immediately, and the gateway holds no
// file descriptor, buffer or goroutine for it. A slot is freed when the
// connection is closed, by either side. Safe for concurrent use.
type limitListener struct {
	net.Listener
	total, perIP int                 // 0: no limit
	onChange     func(open int)      // called with the open count after each change; may be nil
	onRefuse     func(reason string) // called for each refused connection; may be nil

	mu   sync.Mutex
	open int
	byIP map[string]int
}

func newLimitListener(ln net.Listener, total, perIP int, onChange func(int), onRefuse func(string)) *limitListener {
	return &limitListener{Listener: ln, total: total, perIP: perIP, onChange: onChange, onRefuse: onRefuse, byIP: make(map[string]int)}
}

// Accept returns the next connection within the caps, resetting the ones
// over them; it returns only the underlying listener's errors.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := clientKey(c.RemoteAddr())
		if reason := l.acquire(key); reason != "" {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // RST: no FIN handshake, no TIME_WAIT held for it
			}
			_ = c.Close()
			if l.onRefuse != nil {
				l.onRefuse(reason)
			}
			continue
		}
		return &limitConn{Conn: c, l: l, key: key}, nil
	}
}

func (l *limitListener) acquire(key string) (refused string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.perIP > 0 && l.byIP[key] >= l.perIP:
		return refusedPerIP
	case l.total > 0 && l.open >= l.total:
		return refusedTotal
	}
	l.open++
	l.byIP[key]++
	if l.onChange != nil {
		l.onChange(l.open)
	}
	return ""
}

func (l *limitListener) release(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if n := l.byIP[key] - 1; n > 0 {
		l.byIP[key] = n
	} else {
		delete(l.byIP, key)
	}
	if l.onChange != nil {
		l.onChange(l.open)
	}
}

// Open is the number of connections handed out and not yet closed.
func (l *limitListener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// limitConn frees its slot when closed (once, however often Close is
// called).
type limitConn struct {
	net.Conn
	l    *limitListener
	key  string
	once sync.Once
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}

// clientKey is the per-client key of a remote address (clientNetwork), so
// one client cannot take more slots by using more of its addresses.
func clientKey(a net.Addr) string {
	if a, ok := a.(*net.TCPAddr); ok {
		return clientNetwork(a.IP.String())
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return clientNetwork(host)
}
