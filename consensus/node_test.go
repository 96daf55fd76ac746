package consensus

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dbm "github.com/cometbft/cometbft-db"
	"github.com/cometbft/cometbft/abci/example/kvstore"
	"github.com/cometbft/cometbft/libs/log"
	rpcclient "github.com/cometbft/cometbft/rpc/client"
	ctypes "github.com/cometbft/cometbft/rpc/core/types"
	"github.com/cometbft/cometbft/types"
)

// commitTx submits tx through the in-process client and requires it committed with code 0.
func commitTx(t *testing.T, c rpcclient.Client, tx string) int64 {
	t.Helper()
	res, err := c.BroadcastTxCommit(context.Background(), types.Tx(tx))
	if err != nil {
		t.Fatalf("BroadcastTxCommit(%q): %v", tx, err)
	}
	if res.CheckTx.Code != 0 || res.TxResult.Code != 0 || res.Height <= 0 {
		t.Fatalf("BroadcastTxCommit(%q): check %d, exec %d, height %d", tx, res.CheckTx.Code, res.TxResult.Code, res.Height)
	}
	return res.Height
}

func queryKey(t *testing.T, c rpcclient.Client, key string) string {
	t.Helper()
	res, err := c.ABCIQuery(context.Background(), "", []byte(key))
	if err != nil {
		t.Fatalf("ABCIQuery(%q): %v", key, err)
	}
	return string(res.Response.Value)
}

func TestNodeCommitsStopsAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real CometBFT node")
	}
	opts := testOptions(t)
	home, err := InitHome(opts)
	if err != nil {
		t.Fatal(err)
	}

	// Run 1: in-memory kvstore, Start/Stop by hand.
	node, err := NewNode(home, kvstore.NewInMemoryApplication(), log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	if node.RPCAddress() != opts.RPCListen {
		t.Errorf("RPCAddress %q, want %q", node.RPCAddress(), opts.RPCListen)
	}
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Stop() })
	if err := node.Start(); !errors.Is(err, ErrAlreadyStarted) {
		t.Errorf("second Start: %v", err)
	}
	client := node.Client()
	h1 := commitTx(t, client, "name=dstt")
	if got := queryKey(t, client, "name"); got != "dstt" {
		t.Errorf("query name = %q", got)
	}
	// The tx indexer is off: /tx by hash says so rather than answering (dstt answers
	// from its own tx records, the /tx ABCI query).
	if _, err := client.Tx(context.Background(), types.Tx("name=dstt").Hash(), false); err == nil || !strings.Contains(err.Error(), "indexing is disabled") {
		t.Errorf("/tx by hash with indexer null: %v", err)
	}
	// The HTTP RPC listens on the configured loopback port.
	httpURL := "http://" + strings.TrimPrefix(opts.RPCListen, "tcp://") + "/status"
	resp, err := http.Get(httpURL)
	if err != nil {
		t.Fatalf("GET %s: %v", httpURL, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"network":"dstt-test"`) {
		t.Errorf("GET /status: %d %s", resp.StatusCode, body)
	}

	// create_empty_blocks = false: once the tx's block (and the proof block for its new
	// app hash) are done, the height stays put, though timeout_commit is 0 (a chain
	// that made empty blocks would make dozens of heights in this pause).
	idle := time.NewTimer(500 * time.Millisecond)
	<-idle.C
	if st, err := client.Status(context.Background()); err != nil || st.SyncInfo.LatestBlockHeight > h1+1 {
		t.Errorf("idle chain moved from %d: %+v, %v", h1, st.SyncInfo, err)
	}

	if err := node.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// The validator's last-sign state was persisted while signing.
	if pv, err := loadFilePV(home.PrivValidatorKeyFile(), home.PrivValidatorStateFile()); err != nil || pv.LastSignState.Height < h1 {
		t.Errorf("priv_validator_state height %d after committing %d (%v)", pv.LastSignState.Height, h1, err)
	}
	if err := node.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if node.IsRunning() {
		t.Error("IsRunning after Stop")
	}
	if err := node.Start(); !errors.Is(err, ErrStopped) {
		t.Errorf("Start after Stop: %v", err)
	}

	// Run 2: same home, a persistent kvstore starting empty. The handshake replays the
	// stored blocks into it, and the chain continues past h1. Driven by Run(ctx).
	app := kvstore.NewPersistentApplication(t.TempDir())
	defer app.Close()
	node2, err := NewNode(home, app, log.NewNopLogger())
	if err != nil {
		t.Fatalf("NewNode on the same home after Stop: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- node2.Run(ctx) }()

	waitCtx, waitCancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer waitCancel()
	if err := WaitForHeight(waitCtx, node2.Client(), h1); err != nil {
		t.Fatal(err)
	}
	if got := queryKey(t, node2.Client(), "name"); got != "dstt" {
		t.Errorf("after restart, query name = %q (blocks not replayed into the new app?)", got)
	}
	h2 := commitTx(t, node2.Client(), "second=tx")
	if h2 <= h1 {
		t.Errorf("height after restart %d, want > %d", h2, h1)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if node2.IsRunning() {
		t.Error("IsRunning after Run returned")
	}
}

func TestNodeStopWithoutStartReleasesDatabases(t *testing.T) {
	if testing.Short() {
		t.Skip("builds real CometBFT nodes")
	}
	home, err := InitHome(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		node, err := NewNode(home, kvstore.NewInMemoryApplication(), nil)
		if err != nil {
			t.Fatalf("NewNode #%d: %v", i+1, err)
		}
		if err := node.Stop(); err != nil {
			t.Fatalf("Stop #%d: %v", i+1, err)
		}
	}
}

func TestWaitForHeightHonoursDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := WaitForHeight(ctx, stuckStatus{}, 5)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitForHeight = %v, want DeadlineExceeded", err)
	}
}

// stuckStatus is a StatusClient whose chain never moves past height 1.
type stuckStatus struct{}

func (stuckStatus) Status(context.Context) (*ctypes.ResultStatus, error) {
	return &ctypes.ResultStatus{SyncInfo: ctypes.SyncInfo{LatestBlockHeight: 1}}, nil
}

func TestNewNodeReportsMissingDBBackend(t *testing.T) {
	if DefaultDBBackend == "pebbledb" {
		t.Skip("this build has every backend InitOptions accepts")
	}
	opts := testOptions(t)
	opts.DBBackend = "pebbledb"
	home, err := InitHome(opts)
	if err != nil {
		t.Fatal(err)
	}
	node, err := NewNode(home, kvstore.NewInMemoryApplication(), nil)
	if !errors.Is(err, ErrDBBackendAbsent) || !strings.Contains(err.Error(), "-tags pebbledb") {
		t.Fatalf("NewNode = %v, want ErrDBBackendAbsent with a build hint", err)
	}
	if node != nil {
		t.Fatal("NewNode returned a node with an error")
	}
}

// TestClosedDatabaseRefusesInsteadOfPanicking: CometBFT's indexer goroutine
// can still write a block's index after the node stopped and closed its
// databases. A write then, through a batch opened before the close or
// directly, returns errDBClosed; Pebble itself would panic. A read then (a
// consensus reactor peer goroutine loading a commit) finds nothing.
func TestClosedDatabaseRefusesInsteadOfPanicking(t *testing.T) {
	raw, err := dbm.NewDB("tx_index", dbm.BackendType(DefaultDBBackend), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	db := &guardedDB{DB: raw}
	if err := db.Set([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	pending := db.NewBatch() // opened before the close, written after it
	if err := pending.Set([]byte("k2"), []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := pending.WriteSync(); !errors.Is(err, errDBClosed) {
		t.Fatalf("batch written after Close: %v, want errDBClosed", err)
	}
	if err := pending.Close(); err != nil {
		t.Fatalf("closing the batch: %v", err)
	}
	late := db.NewBatch()
	if err := late.Set([]byte("k3"), []byte("v3")); !errors.Is(err, errDBClosed) {
		t.Fatalf("batch opened after Close: %v, want errDBClosed", err)
	}
	if err := late.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.SetSync([]byte("k"), []byte("v")); !errors.Is(err, errDBClosed) {
		t.Fatalf("SetSync after Close: %v", err)
	}
	// Reads answer "absent": the block store panics on a read error, and a
	// peer goroutine of the consensus reactor can read after Stop.
	if v, err := db.Get([]byte("k")); err != nil || v != nil {
		t.Fatalf("Get after Close: %q, %v; want absent", v, err)
	}
	if ok, err := db.Has([]byte("k")); err != nil || ok {
		t.Fatalf("Has after Close: %v, %v; want absent", ok, err)
	}
	if _, err := db.Iterator(nil, nil); !errors.Is(err, errDBClosed) {
		t.Fatalf("Iterator after Close: %v", err)
	}
}
