package rest_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/transport/client/cometrpc"
	"github.com/dstt/dstt/transport/internal/testnode"
	"github.com/dstt/dstt/types"
)

// expectedWrite is a committed write as the submitter saw it.
type expectedWrite struct {
	id    api.EventID
	key   string
	op    string
	value string
}

func (e expectedWrite) String() string { return fmt.Sprintf("%s %s %s=%q", e.id, e.op, e.key, e.value) }

// collect reads n events from sub, or fails at the deadline.
func collect(t *testing.T, ctx context.Context, sub *client.Subscription, n int) []expectedWrite {
	t.Helper()
	var got []expectedWrite
	for len(got) < n {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				t.Fatalf("subscription ended after %d of %d events: %v", len(got), n, sub.Err())
			}
			id, err := api.ParseEventID(ev.ID)
			if err != nil || id.Height != ev.Height || id.TxIndex != ev.TxIndex || id.Write != ev.WriteIndex {
				t.Fatalf("event id %q does not match %+v", ev.ID, ev)
			}
			v, err := ev.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, expectedWrite{id: id, key: ev.Key, op: ev.Op, value: string(v)})
		case <-ctx.Done():
			t.Fatalf("only %d of %d events before the deadline", len(got), n)
		}
	}
	return got
}

// Acceptance 2: a subscriber receives every committed write under its
// prefix, in commit order: live, replayed from the store, resumed after
// an id, and over the CometBFT RPC.
func TestEventsEveryWriteInCommitOrder(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	c := n.AdminClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	live, err := c.Subscribe(ctx, "feed/", client.SubscribeOptions{Buffer: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	rpcSub, err := cometrpc.NewFromRPC(n.Node.Client()).Subscribe(ctx, "feed/", client.SubscribeOptions{Buffer: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer rpcSub.Close()

	// 8 writers, 10 batches each of 3 txs: a put under the prefix, a put
	// outside it plus a delete under it, and a tx that puts two keys
	// under the prefix (one twice: the last value counts).
	var mu sync.Mutex
	var want []expectedWrite
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				bodies := []*types.TxBody{
					{Ops: []types.Op{put(fmt.Sprintf("feed/%d/%d", w, i), fmt.Sprintf("v%d.%d", w, i))}},
					{Ops: []types.Op{put(fmt.Sprintf("other/%d/%d", w, i), "no"), del(fmt.Sprintf("feed/%d/%d", w, i-1))}},
					{Ops: []types.Op{put(fmt.Sprintf("feed/x/%d", w), "first"), put(fmt.Sprintf("feed/y/%d", w), "\xff"), put(fmt.Sprintf("feed/x/%d", w), fmt.Sprintf("last%d", i))}},
				}
				txs := make([][]byte, len(bodies))
				values := make([]map[string]string, len(bodies))
				for j, b := range bodies {
					tx, err := c.Sign(ctx, b)
					if err != nil {
						errs <- err
						return
					}
					txs[j] = tx
					values[j] = map[string]string{}
					for _, op := range b.Ops {
						if p, ok := op.Sum.(*types.Op_Put); ok {
							values[j][p.Put.Key] = string(p.Put.Value)
						}
					}
				}
				outs, err := c.BroadcastBatch(ctx, txs, true)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for j, o := range outs {
					if o.Status != api.StatusCommitted {
						mu.Unlock()
						errs <- fmt.Errorf("tx not committed: %+v", o)
						return
					}
					for k, wr := range o.Writes {
						if !strings.HasPrefix(wr.Key, "feed/") {
							continue
						}
						e := expectedWrite{id: api.EventID{Height: o.Height, TxIndex: o.Index, Write: k}, key: wr.Key, op: "put", value: values[j][wr.Key]}
						if wr.Deleted {
							e.op, e.value = "delete", ""
						}
						want = append(want, e)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	slices.SortFunc(want, func(a, b expectedWrite) int {
		switch {
		case a.id.Less(b.id):
			return -1
		case b.id.Less(a.id):
			return 1
		}
		return 0
	})
	if len(want) < 8*10*3 {
		t.Fatalf("only %d writes under the prefix", len(want))
	}
	check := func(name string, got []expectedWrite) {
		t.Helper()
		if !slices.Equal(got, want) {
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("%s: event %d is %s, want %s", name, i, got[i], want[i])
				}
			}
			t.Fatalf("%s: %d events, want %d", name, len(got), len(want))
		}
	}
	check("live REST stream", collect(t, ctx, live, len(want)))
	check("live RPC stream", collect(t, ctx, rpcSub, len(want)))

	// Replayed from the store, from the first height.
	replay, err := c.Subscribe(ctx, "feed/", client.SubscribeOptions{FromHeight: 1, Buffer: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer replay.Close()
	check("replay from height 1", collect(t, ctx, replay, len(want)))

	// Resumed after an id in the middle.
	mid := len(want) / 2
	resumed, err := c.Subscribe(ctx, "feed/", client.SubscribeOptions{After: want[mid-1].id.String(), Buffer: 4096})
	if err != nil {
		t.Fatal(err)
	}
	defer resumed.Close()
	got := collect(t, ctx, resumed, len(want)-mid)
	if !slices.Equal(got, want[mid:]) {
		t.Fatalf("resumed stream: %v, want %v", got[:min(3, len(got))], want[mid:mid+3])
	}

	// Nothing else arrives: the next write under the prefix is the next event.
	if _, err := c.SubmitOps(ctx, put("feed/last", "z")); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*client.Subscription{live, rpcSub} {
		select {
		case ev := <-s.Events():
			if ev.Key != "feed/last" {
				t.Fatalf("unexpected extra event %+v", ev)
			}
		case <-ctx.Done():
			t.Fatal("no event for feed/last")
		}
	}
}

// The wire format: SSE framing, ids, and an id-only checkpoint on the
// keep-alive.
func TestEventsWireFormat(t *testing.T) {
	n := testnode.Start(t, testnode.Options{})
	c := n.AdminClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := c.SubmitOps(ctx, put("wire/a", "1"), put("wire/b", "2"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.URL()+"/v1/events?prefix=wire/&from_height=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	br := bufio.NewReader(resp.Body)
	var lines []string
	for len(lines) < 6 {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		line = strings.TrimRight(line, "\n")
		if line == "" || strings.HasPrefix(line, ":") || strings.HasPrefix(line, "retry:") {
			continue
		}
		lines = append(lines, line)
	}
	id0 := fmt.Sprintf("id: %d.%d.0", res.Height, res.Index)
	id1 := fmt.Sprintf("id: %d.%d.1", res.Height, res.Index)
	if lines[0] != id0 || lines[1] != "event: write" || !strings.HasPrefix(lines[2], `data: {"id":"`) ||
		lines[3] != id1 || !strings.Contains(lines[5], `"key":"wire/b","op":"put"`) {
		t.Fatalf("stream:\n%s", strings.Join(lines, "\n"))
	}
}
