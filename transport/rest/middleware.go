package rest

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/dstt/dstt/transport/api"
)

// statusRecorder remembers the response status for the metrics, and arms
// the write deadline: once, at the first byte of a response; before every
// write of an event stream.
type statusRecorder struct {
	http.ResponseWriter
	status int

	rc           *http.ResponseController // of the server's ResponseWriter
	writeTimeout time.Duration
	stream       bool
	armed        bool
}

func (s *statusRecorder) armWrite() {
	if s.stream || !s.armed {
		_ = s.rc.SetWriteDeadline(time.Now().Add(s.writeTimeout)) // ErrNotSupported off a real connection: nothing to bound
		s.armed = true
	}
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.armWrite()
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	s.armWrite()
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Flush lets event streams flush through the recorder.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		s.armWrite()
		f.Flush()
	}
}

// middleware: deadlines, panic recovery, metrics, per-client rate limit.
//
// Deadlines are set per request rather than with http.Server.ReadTimeout
// and WriteTimeout, which would also end event streams. The headers have
// ReadHeaderTimeout (the server's); a body then has ReadBodyTimeout, and
// readBody lifts the deadline once it has the whole body (a read deadline
// left to expire while a commit-mode submit waits would cancel it). A
// response has WriteTimeout from its first byte, an event stream for each
// write, and whatever is still buffered when the handler returns gets a
// fresh WriteTimeout to be flushed.
func (g *Gateway) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		name, _, _ := match(r.URL.EscapedPath())
		rc := http.NewResponseController(w)
		_ = rc.SetWriteDeadline(time.Time{}) // the last response's, on a keep-alive connection
		if r.ContentLength != 0 {            // a body (-1: chunked)
			_ = rc.SetReadDeadline(start.Add(g.cfg.ReadBodyTimeout))
		}
		rec := &statusRecorder{ResponseWriter: w, rc: rc, writeTimeout: g.cfg.WriteTimeout, stream: name == routeEvents}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				g.logger.Error("REST handler panicked", "route", name, "panic", p, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeProblem(rec, r, api.NewProblem(api.ProblemInternal, "the gateway failed while handling the request"))
				}
			}
			_ = rc.SetWriteDeadline(time.Now().Add(g.cfg.WriteTimeout))
			g.metrics.requests.WithLabelValues(name, strconv.Itoa(rec.status)).Inc()
			if name != routeEvents {
				g.metrics.requestDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
			}
		}()
		switch name {
		case routeHealthz, routeReadyz:
		default:
			if ok, wait := g.limiter.allow(rateKey(ClientIdentity(r))); !ok {
				secs := max(1, int((wait+time.Second-1)/time.Second))
				rec.Header().Set("Retry-After", strconv.Itoa(secs))
				p := api.NewProblem(api.ProblemRateLimited, fmt.Sprintf("this client may make %g requests per second (burst %d); retry after %s", g.cfg.RateLimit, g.cfg.RateBurst, wait.Round(time.Millisecond)))
				p.RetryAfterSeconds = secs
				writeProblem(rec, r, p)
				return
			}
			if g.certRequired(r) { // after the rate limit: refusals are logged
				g.authFailure(ClientIdentity(r), "client_certificate", nil, "TLS: no client certificate")
				writeProblem(rec, r, api.NewProblem(api.ProblemCertRequired, "this gateway requires a TLS client certificate signed by its client CA (only /healthz and /readyz are served without one)"))
				return
			}
		}
		next.ServeHTTP(rec, r.WithContext(withClientEndpoint(r.Context(), ClientIdentity(r).Addr)))
	})
}

// endpointKey keys the client's address in a request's context.
type endpointKey struct{}

func withClientEndpoint(ctx context.Context, addr string) context.Context {
	return context.WithValue(ctx, endpointKey{}, addr)
}

// ClientEndpoint is the network address (IP) of the REST client on whose
// behalf ctx runs, or "". The gateway's in-process backend hands ctx to
// the application with each query (CometBackend.Query), so the node's own
// hooks can record who asked: an audit entry's Endpoint.
func ClientEndpoint(ctx context.Context) string {
	addr, _ := ctx.Value(endpointKey{}).(string)
	return addr
}

// certRequired reports whether r lacks the client certificate the gateway
// requires. The handshake verifies a certificate that is sent; requiring
// one is per route, so that health probes need none.
func (g *Gateway) certRequired(r *http.Request) bool {
	return g.cfg.TLS.ClientAuth == ClientAuthRequire && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0)
}
