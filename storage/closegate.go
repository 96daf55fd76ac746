package storage

import "sync"

// closeGate lets operations run concurrently with each other while making
// Close wait for the ones in flight. Unlike an RWMutex held for the whole
// operation, it never blocks an operation that re-enters the store (a Scan
// callback calling Get) while Close is waiting: once Close has begun, enter
// fails at once and the re-entrant call returns ErrClosed.
type closeGate struct {
	mu      sync.Mutex
	drained sync.Cond // signalled when inflight drops to zero after close
	closed  bool
	n       int // operations in flight
}

// enter registers an operation. It returns false if the gate is closed;
// otherwise the caller must call leave when done.
func (g *closeGate) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.n++
	return true
}

// leave ends an operation started by a successful enter.
func (g *closeGate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.n--
	if g.n == 0 && g.closed {
		g.drained.Broadcast()
	}
}

// close shuts the gate and waits until no operation is in flight. It
// returns false if the gate was already closed.
func (g *closeGate) close() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.closed = true
	if g.drained.L == nil {
		g.drained.L = &g.mu
	}
	for g.n > 0 {
		g.drained.Wait()
	}
	return true
}
