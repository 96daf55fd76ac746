package rest

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Identity is who a request comes from, as far as the transport can tell:
// its verified TLS client certificate when it sent one, else its IP
// address.
type Identity struct {
	// ID names the client in the node log: "cert:<SHA-256 of the
	// certificate, hex>" or "ip:<address>" (rate limits count an IPv6
	// address by its /64: rateKey).
	ID string
	// Certificate is the verified client certificate, or nil.
	Certificate *x509.Certificate
	// Addr is the remote IP address.
	Addr string
}

// ClientIdentity identifies the client of r.
func ClientIdentity(r *http.Request) Identity {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	id := Identity{ID: "ip:" + host, Addr: host}
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		c := r.TLS.VerifiedChains[0][0]
		sum := sha256.Sum256(c.Raw)
		id.ID, id.Certificate = "cert:"+hex.EncodeToString(sum[:]), c
	}
	return id
}

// rateKey is the client's key in the per-client rate limit: its
// certificate, else its network (clientNetwork: an IPv6 client by its /64).
func rateKey(id Identity) string {
	if id.Certificate != nil {
		return id.ID
	}
	return "ip:" + clientNetwork(id.Addr)
}

// Read kinds in a ReadRequest.
const (
	ReadKV         = "kv"         // GET /v1/kv/{key}
	ReadHistory    = "history"    // GET /v1/kv/{key}/history
	ReadTx         = "tx"         // GET /v1/txs/{hash}
	ReadEvents     = "events"     // GET /v1/events (Key holds the prefix)
	ReadIdentity   = "identity"   // GET /v1/identities/{address} (Key holds the address)
	ReadOrgs       = "orgs"       // GET /v1/gov/orgs
	ReadValidators = "validators" // GET /v1/gov/validators
)

// ReadRequest is a read the gateway is about to serve.
type ReadRequest struct {
	Kind   string
	Key    string // the key, or the event prefix
	TxHash string
	Height int64
}

// ErrForbidden is what a ReadAuthorizer returns (wrapped) to deny a read;
// the client gets a FORBIDDEN problem carrying the error's text.
var ErrForbidden = errors.New("rest: forbidden")

// ReadAuthorizer decides whether the client of r may make a read. It is
// the hook RBAC plugs into; the default allows everything. A non-nil error
// denies the read: a *api.Problem is sent as it is, anything else as
// FORBIDDEN with the error's text.
type ReadAuthorizer interface {
	AuthorizeRead(r *http.Request, who Identity, req ReadRequest) error
}

// ReadAuthorizerFunc adapts a function.
type ReadAuthorizerFunc func(r *http.Request, who Identity, req ReadRequest) error

// AuthorizeRead implements ReadAuthorizer.
func (f ReadAuthorizerFunc) AuthorizeRead(r *http.Request, who Identity, req ReadRequest) error {
	return f(r, who, req)
}

// AllowAllReads is the default ReadAuthorizer.
var AllowAllReads ReadAuthorizer = ReadAuthorizerFunc(func(*http.Request, Identity, ReadRequest) error { return nil })

// clientLimiter keeps one token bucket per client identity.
type clientLimiter struct {
	limit rate.Limit
	burst int

	maxClients int
	idle       time.Duration // a bucket unused this long is full: dropped

	mu      sync.Mutex
	clients map[string]*clientBucket
	swept   time.Time
}

type clientBucket struct {
	lim  *rate.Limiter
	seen time.Time
}

// limiterIdle is the longest an unused bucket is kept; one unused for as
// long as it takes to refill (burst / rate) is full, the same as a new
// one, so it is dropped then (dropping it changes nothing for the client).
const limiterIdle = 5 * time.Minute

// limiterMaxClients bounds the buckets kept at once (clients seen within
// the time a bucket takes to refill); a new client beyond it shares
// limiterOverflow's bucket.
const limiterMaxClients = 1 << 16

// limiterOverflow keys the bucket that new clients beyond
// limiterMaxClients share.
const limiterOverflow = "overflow"

func newClientLimiter(perSec float64, burst int) *clientLimiter {
	idle := limiterIdle
	if perSec > 0 {
		idle = min(max(time.Duration(float64(burst)/perSec*float64(time.Second)), time.Second), limiterIdle)
	}
	return &clientLimiter{limit: rate.Limit(perSec), burst: burst, maxClients: limiterMaxClients, idle: idle, clients: make(map[string]*clientBucket)}
}

// sweep drops the buckets unused for l.idle (full again); l.mu is held.
func (l *clientLimiter) sweep(now time.Time) {
	for k, c := range l.clients {
		if now.Sub(c.seen) > l.idle {
			delete(l.clients, k)
		}
	}
	l.swept = now
}

// allow takes a token from id's bucket; when empty it says how long until
// the next one.
func (l *clientLimiter) allow(id string) (bool, time.Duration) {
	if l.limit <= 0 {
		return true, 0
	}
	now := time.Now()
	l.mu.Lock()
	if now.Sub(l.swept) > l.idle {
		l.sweep(now)
	}
	b, ok := l.clients[id]
	if !ok && len(l.clients) >= l.maxClients {
		id = limiterOverflow
		b, ok = l.clients[id]
	}
	if !ok {
		b = &clientBucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.clients[id] = b
	}
	b.seen = now
	l.mu.Unlock()
	r := b.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}
