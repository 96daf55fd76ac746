package rest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/security"
	"github.com/dstt/dstt/security/verify"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/transport/rest"
	"github.com/dstt/dstt/types"
)

// openFDs counts this process's open file descriptors (Linux).
func openFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

// clientFrom is an HTTP client whose connections come from the loopback
// address src.
func clientFrom(src string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	return &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
}

// slowConn is one attacking connection: it sends a request's headers and
// then trickles its body a byte at a time (or trickles the headers), as in
// the attack that ran the node out of file descriptors.
type slowConn struct {
	src        string
	slowHeader bool
	opened     time.Time
	dialErr    error         // reset before connect returned: refused
	closed     time.Time     // when the server closed it
	response   []byte        // what the server sent before closing
	done       chan struct{} // closed when the connection has ended
}

func startSlow(addr, src string, slowHeader bool, stop <-chan struct{}) *slowConn {
	s := &slowConn{src: src, slowHeader: slowHeader, opened: time.Now(), done: make(chan struct{})}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		s.dialErr, s.closed = err, time.Now()
		close(s.done)
		return s
	}
	head := "POST /v1/txs HTTP/1.1\r\nHost: dstt\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
	trickle := []byte(`{"txs":["` + string(bytes.Repeat([]byte("A"), 99990)))
	if slowHeader {
		trickle = []byte(head + "X-Slow: " + string(bytes.Repeat([]byte("a"), 1000)))
		head = ""
	}
	go func() { // the reader: how and when the server ends the connection
		defer close(s.done)
		defer c.Close()
		b, _ := io.ReadAll(c)
		s.closed, s.response = time.Now(), b
	}()
	go func() { // the writer: one byte every 100 ms, so no per-read timeout would fire
		if _, err := io.WriteString(c, head); err != nil {
			return
		}
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for _, b := range trickle {
			select {
			case <-tick.C:
			case <-s.done:
				return
			case <-stop:
				c.Close()
				return
			}
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
		}
	}()
	return s
}

// Issue 10, attack 3: slow clients cannot exhaust the gateway. Many more
// slow connections than the caps (headers then a trickled body, or
// trickled headers) from several loopback addresses: the gateway holds at
// most MaxConnectionsPerIP of them per address and MaxOpenConnections in
// all, resets the rest at once, ends the held ones at their deadline, and
// a well-behaved client from another address commits a tx meanwhile.
func TestSlowClientsCannotExhaustGateway(t *testing.T) {
	const (
		total, perIP  = 64, 16
		headerTimeout = 2 * time.Second
		bodyTimeout   = 3 * time.Second
		slowPerIP     = 67 // phase 1: 3 addresses x 67 = 201 slow connections
	)
	n := testnode.Start(t, testnode.Options{Gateway: func(c *rest.Config) {
		c.MaxOpenConnections, c.MaxConnectionsPerIP = total, perIP
		c.ReadHeaderTimeout, c.ReadBodyTimeout = headerTimeout, bodyTimeout
	}})
	addr := n.Gateway.Addr()
	good := clientFrom("127.0.0.2")
	defer good.CloseIdleConnections()
	commit := func(what, key string) time.Duration {
		t.Helper()
		b, _ := json.Marshal(api.SubmitRequest{Tx: hex.EncodeToString(signTx(t, n, n.Admin, put(key, "v"))), Mode: api.ModeCommit})
		start := time.Now()
		resp, err := good.Post(n.URL()+"/v1/txs", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var sr api.SubmitResponse
		if resp.StatusCode != 200 || json.Unmarshal(body, &sr) != nil || sr.Committed != 1 {
			t.Fatalf("%s: %d %s", what, resp.StatusCode, body)
		}
		return time.Since(start)
	}
	commit("before the attack", "warm")
	good.CloseIdleConnections()
	waitFor(t, 5*time.Second, "idle connections closed", func() bool { return n.Gateway.OpenConnections() == 0 })
	fdsBefore, goroutinesBefore := openFDs(), runtime.NumGoroutine()

	stop := make(chan struct{})
	defer close(stop)
	var slow []*slowConn
	attack := func(srcs ...string) {
		for _, src := range srcs {
			for i := range slowPerIP {
				slow = append(slow, startSlow(addr, src, i%2 == 1, stop))
			}
		}
	}
	refused := func(reason string) float64 {
		return metricValue(t, n, `dstt_rest_connections_refused_total{reason="`+reason+`"}`)
	}

	// Phase 1: three attacking addresses, each far over its cap.
	attackStart := time.Now()
	attack("127.0.0.1", "127.0.0.3", "127.0.0.4")
	waitFor(t, 5*time.Second, "every slow connection held or refused", func() bool {
		return float64(n.Gateway.OpenConnections())+refused("max_connections_per_ip") >= float64(len(slow))
	})
	held1 := n.Gateway.OpenConnections()
	if held1 > 3*perIP {
		t.Fatalf("%d slow connections held, the cap is %d per address", held1, perIP)
	}
	peakFDs := openFDs()

	// A well-behaved client commits during the attack.
	latency := commit("during the attack", "good")
	stillHeld := 0
	for _, s := range slow {
		select {
		case <-s.done:
		default:
			stillHeld++
		}
	}
	if stillHeld == 0 {
		t.Fatal("the attack was over before the good client committed: nothing tested")
	}
	good.CloseIdleConnections()

	// Phase 2: two more addresses push the total over its cap.
	attack("127.0.0.5", "127.0.0.6")
	waitFor(t, 5*time.Second, "the total cap reached", func() bool { return refused("max_open_connections") > 0 })
	if open := n.Gateway.OpenConnections(); open > total {
		t.Fatalf("%d connections open, the cap is %d", open, total)
	}
	peakFDs = max(peakFDs, openFDs())

	// Every slow connection ends: reset at once, or closed at its deadline.
	for _, s := range slow {
		select {
		case <-s.done:
		case <-time.After(time.Until(attackStart.Add(bodyTimeout + 10*time.Second))):
			t.Fatalf("a slow connection from %s (slow header %v) is still open after %s", s.src, s.slowHeader, time.Since(s.opened))
		}
	}
	var nRefused, nHeader, nBody int
	var firstClose, lastClose time.Duration
	for _, s := range slow {
		life := s.closed.Sub(s.opened)
		switch {
		case s.dialErr != nil || (len(s.response) == 0 && life < headerTimeout/2):
			nRefused++
			continue
		case s.slowHeader:
			nHeader++
			if life < headerTimeout-100*time.Millisecond {
				t.Errorf("a slow-header connection was closed after %s, before its deadline", life)
			}
		default:
			nBody++
			if life < bodyTimeout-100*time.Millisecond || !bytes.HasPrefix(s.response, []byte("HTTP/1.1 400")) {
				t.Errorf("a slow-body connection ended after %s with %q; want a 400 at its %s deadline", life, s.response, bodyTimeout)
			}
		}
		if firstClose == 0 || life < firstClose {
			firstClose = life
		}
		lastClose = max(lastClose, life)
	}
	if lastClose > bodyTimeout+5*time.Second {
		t.Errorf("the last held slow connection lived %s; its deadline was %s", lastClose, bodyTimeout)
	}
	if nRefused < len(slow)-total {
		t.Errorf("only %d of %d slow connections refused with caps %d/%d per address", nRefused, len(slow), total, perIP)
	}
	waitFor(t, 5*time.Second, "the gateway's connections released", func() bool { return n.Gateway.OpenConnections() == 0 })

	// The node is fine: it still commits, its health is good, and nothing
	// leaked.
	after := commit("after the attack", "after")
	if r := do(t, http.MethodGet, n.URL()+"/healthz", "", nil); r.status != 200 {
		t.Errorf("healthz %d after the attack", r.status)
	}
	good.CloseIdleConnections()
	fdsAfter := openFDs()
	if fdsAfter > fdsBefore+8 {
		t.Errorf("open file descriptors %d before the attack, %d after", fdsBefore, fdsAfter)
	}
	t.Logf("slow connections opened: %d from 5 loopback addresses (%d per address; caps %d total, %d per address; header deadline %s, body deadline %s)",
		len(slow), slowPerIP, total, perIP, headerTimeout, bodyTimeout)
	t.Logf("refused at once: %d (gateway counters: %v per address, %v total cap); held then closed at the deadline: %d slow-header, %d slow-body (first after %s, last after %s); held at once in phase 1: %d",
		nRefused, refused("max_connections_per_ip"), refused("max_open_connections"), nHeader, nBody,
		firstClose.Round(time.Millisecond), lastClose.Round(time.Millisecond), held1)
	t.Logf("good client (127.0.0.2) commit latency during the attack: %s (after it: %s)", latency.Round(time.Millisecond), after.Round(time.Millisecond))
	t.Logf("process: open fds %d before, %d at peak, %d after; goroutines %d before, %d after",
		fdsBefore, peakFDs, fdsAfter, goroutinesBefore, runtime.NumGoroutine())
}

// countingVerifier counts what the gateway asks to verify.
type countingVerifier struct {
	calls, items atomic.Int64
}

func (v *countingVerifier) VerifyBatch(items []verify.Item) []bool {
	v.calls.Add(1)
	v.items.Add(int64(len(items)))
	return verify.Batch(items)
}

// Issue 10, attack 7: the cheap checks (tx size, signature count, ...) of
// every tx in a request run before any signature is verified, so a request
// the chain's limits refuse costs no signature verification at all.
func TestOversizedTxsRefusedBeforeAnySignatureIsVerified(t *testing.T) {
	cv := &countingVerifier{}
	n := testnode.Start(t, testnode.Options{GatewayOptions: rest.Options{Verifier: cv}})
	const manySigs = 200 // the chain allows 16
	keys := make([]*security.LocalSigner, manySigs)
	for i := range keys {
		keys[i] = newKey(t)
	}
	good := signTx(t, n, n.Admin, put("fine", "1"))
	tooManySigs := signedBy(t, n, keys, put("k", "v"))
	tooBig := signTx(t, n, n.Admin, put("big", string(bytes.Repeat([]byte("x"), 1<<20))))
	// The request: one ~16 MB tx carrying 120,000 signatures.
	huge := func() []byte {
		body := &types.TxBody{ChainId: n.ChainID, Nonce: 1, ValidUntilHeight: 1 << 20, Ops: []types.Op{put("k", "v")}}
		bb, _ := body.Marshal()
		sigs := make([]types.Signature, 120_000)
		for i := range sigs {
			pk, sig := make([]byte, 32), make([]byte, 64)
			copy(pk, fmt.Appendf(nil, "%08d", i))
			sigs[i] = types.Signature{PubKey: pk, Signature: sig}
		}
		tx, _ := (&types.Tx{BodyBytes: bb, Signatures: sigs}).Marshal()
		return tx
	}()
	b64 := base64.StdEncoding.EncodeToString
	for _, c := range []struct {
		name  string
		txs   []string
		index int
	}{
		{"a tx with 200 signatures", []string{b64(tooManySigs)}, 0},
		{"a batch whose second tx has 200 signatures", []string{b64(good), b64(tooManySigs)}, 1},
		{"a tx over max_tx_bytes", []string{b64(good), b64(tooBig)}, 1},
		{"one 16 MB tx with 120,000 signatures", []string{b64(huge)}, 0},
	} {
		body, _ := json.Marshal(api.SubmitRequest{Txs: c.txs})
		start := time.Now()
		r := do(t, http.MethodPost, n.URL()+"/v1/txs", "application/json", body)
		took := time.Since(start)
		wantProblem(t, c.name, r, http.StatusRequestEntityTooLarge, types.CodeTooLarge.Name())
		if r.problem.TxIndex == nil || *r.problem.TxIndex != c.index {
			t.Errorf("%s: the problem names tx %v, want %d", c.name, r.problem.TxIndex, c.index)
		}
		if calls, items := cv.calls.Load(), cv.items.Load(); calls != 0 || items != 0 {
			t.Fatalf("%s: the gateway verified %d signatures in %d batches before refusing it", c.name, items, calls)
		}
		t.Logf("%s (%d bytes): %d %s in %s, 0 signatures verified", c.name, len(body), r.status, r.problem.Code, took.Round(time.Millisecond))
	}
	// The good tx on its own is verified once and admitted.
	r := postJSON(t, n, api.SubmitRequest{Tx: b64(good)})
	if r.status != 200 || cv.items.Load() != 1 {
		t.Fatalf("good tx: %d %s; %d signatures verified", r.status, r.body, cv.items.Load())
	}
}

// A duplicate the mempool cache drops never reaches the application, so
// the gateway records it in the node's security log, with the client's
// address.
func TestCachedDuplicateRecordedInNodeLog(t *testing.T) {
	n := testnode.Start(t, testnode.Options{NodeLog: true})
	tx := signTx(t, n, n.Admin, put("once", "1"))
	if r := postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(tx), Mode: api.ModeCommit}); r.status != 200 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	// The same bytes again: CometBFT's cache drops them before CheckTx.
	r := postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(tx), Mode: api.ModeCommit})
	wantProblem(t, "replay", r, http.StatusConflict, types.CodeReplay.Name())
	if err := n.NodeLog.Sync(); err != nil {
		t.Fatal(err)
	}
	ents, err := n.NodeLog.Entries(context.Background(), 1, 1000)
	if err != nil {
		t.Fatal(err)
	}
	hash := types.TxHash(tx)
	var found *audit.Entry
	for i := range ents {
		if ents[i].Kind == audit.KindCheckTxRejected && bytes.Equal(ents[i].TxHash, hash) {
			found = &ents[i]
		}
	}
	if found == nil {
		t.Fatalf("no %s record of the duplicate %X among %d node-log entries", audit.KindCheckTxRejected, hash, len(ents))
	}
	if found.Code != uint32(types.CodeReplay) || found.Actor != types.Address(n.Admin.PubKey()) || found.Message == "" {
		t.Errorf("the record: %+v", *found)
	}
	// The client's address is its own field, beside the signer (Actor).
	if found.Endpoint != "127.0.0.1" {
		t.Errorf("endpoint %q, want the client's address 127.0.0.1", found.Endpoint)
	}
	t.Logf("node log: seq %d %s actor %s endpoint %s code %s: %s", found.Seq, found.Kind, found.Actor, found.Endpoint, found.CodeName, found.Message)
}

// The gateway's deadlines do not cut event streams: with every deadline
// far shorter than the stream's life, a stream still delivers writes
// committed after all of them have passed, over its one connection.
func TestEventStreamOutlivesDeadlines(t *testing.T) {
	const d = 300 * time.Millisecond
	n := testnode.Start(t, testnode.Options{Gateway: func(c *rest.Config) {
		c.ReadHeaderTimeout, c.ReadBodyTimeout, c.WriteTimeout, c.IdleTimeout = d, d, d, d
		c.EventKeepAlive = d / 3
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/v1/events?prefix=sse/", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func(what string, match func(string) bool) {
		t.Helper()
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("the stream ended while waiting for %s", what)
				}
				if match(l) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no %s before the deadline", what)
			}
		}
	}
	// Keep-alives until five times every deadline has passed.
	start := time.Now()
	for time.Since(start) < 5*d {
		next("keep-alive", func(l string) bool { return l == ": keep-alive" })
	}
	r := postJSON(t, n, api.SubmitRequest{Tx: hex.EncodeToString(signTx(t, n, n.Admin, put("sse/late", "1"))), Mode: api.ModeCommit})
	if r.status != 200 {
		t.Fatalf("commit: %d %s", r.status, r.body)
	}
	next("the late write", func(l string) bool { return strings.HasPrefix(l, "data: ") && strings.Contains(l, `"key":"sse/late"`) })
	t.Logf("the stream delivered a write %s after it opened; deadlines %s", time.Since(start).Round(time.Millisecond), d)
}
