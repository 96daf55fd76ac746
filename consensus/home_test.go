package consensus

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/types"

	"github.com/dstt/dstt/testnet/freeport"
)

// freeAddr returns a tcp://127.0.0.1:PORT address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	return "tcp://127.0.0.1:" + strconv.Itoa(freeport.Port(t))
}

func testOptions(t *testing.T) InitOptions {
	t.Helper()
	return InitOptions{
		Home:      filepath.Join(t.TempDir(), "home"),
		ChainID:   "dstt-test",
		AppState:  json.RawMessage(`{"admins":["alice"]}`),
		P2PListen: freeAddr(t),
		RPCListen: freeAddr(t),
	}
}

func TestInitHomeWritesLayout(t *testing.T) {
	opts := testOptions(t)
	h, err := InitHome(opts)
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(h.Dir()) {
		t.Errorf("Dir %q is not absolute", h.Dir())
	}
	for _, f := range []string{
		"config/config.toml", "config/genesis.json", "config/node_key.json",
		"config/priv_validator_key.json", "data/priv_validator_state.json",
	} {
		st, err := os.Stat(filepath.Join(opts.Home, f))
		if err != nil || !st.Mode().IsRegular() {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, f := range []string{"config/node_key.json", "config/priv_validator_key.json", "data/priv_validator_state.json"} {
		if st, err := os.Stat(filepath.Join(opts.Home, f)); err == nil && st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	for _, d := range []string{h.AppDataDir(), h.KeyringDir()} {
		if st, err := os.Stat(d); err != nil || !st.IsDir() {
			t.Errorf("%s: %v", d, err)
		}
	}
	if h.AppDataDir() != filepath.Join(h.Dir(), "data", "app") || h.KeyringDir() != filepath.Join(h.Dir(), "keyring") {
		t.Errorf("AppDataDir %s KeyringDir %s", h.AppDataDir(), h.KeyringDir())
	}
	if !IsInitialised(opts.Home) {
		t.Error("IsInitialised = false after InitHome")
	}

	gen, err := h.Genesis()
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := h.ChainID(); id != "dstt-test" || gen.ChainID != "dstt-test" {
		t.Errorf("chain id %q / %q", id, gen.ChainID)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, gen.AppState); err != nil || compact.String() != `{"admins":["alice"]}` {
		t.Errorf("app_state %s", gen.AppState)
	}
	if len(gen.Validators) != 1 || gen.Validators[0].Power != ValidatorPower || gen.Validators[0].Name != DefaultMoniker {
		t.Fatalf("validators %+v", gen.Validators)
	}
	pub, err := h.ValidatorPubKey()
	if err != nil || !gen.Validators[0].PubKey.Equals(pub) {
		t.Errorf("genesis validator is not the home's validator key (%v)", err)
	}
	if gen.ConsensusParams.Block.MaxBytes != BlockMaxBytes || gen.ConsensusParams.Block.MaxGas != -1 {
		t.Errorf("block params %+v", gen.ConsensusParams.Block)
	}
	if id, err := h.NodeID(); err != nil || len(id) != 40 {
		t.Errorf("NodeID %q, %v", id, err)
	}
}

func TestInitHomeRefusesExistingHome(t *testing.T) {
	opts := testOptions(t)
	h, err := InitHome(opts)
	if err != nil {
		t.Fatal(err)
	}
	oldID, _ := h.NodeID()
	keyringFile := filepath.Join(h.KeyringDir(), "alice.key")
	if err := os.WriteFile(keyringFile, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	appFile := filepath.Join(h.AppDataDir(), "000001.log")
	if err := os.WriteFile(appFile, []byte("state"), 0o600); err != nil {
		t.Fatal(err)
	}

	clientFile := filepath.Join(h.ConfigDir(), "client.json")
	if err := os.WriteFile(clientFile, []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}

	if _, err := InitHome(opts); !errors.Is(err, ErrHomeExists) {
		t.Fatalf("second InitHome: %v, want ErrHomeExists", err)
	}

	opts.Overwrite = true
	opts.ChainID = "dstt-other"
	h2, err := InitHome(opts)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := h2.ChainID(); id != "dstt-other" {
		t.Errorf("chain id after overwrite %q", id)
	}
	if newID, _ := h2.NodeID(); newID == oldID {
		t.Error("overwrite kept the old node key")
	}
	if _, err := os.Stat(appFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("overwrite kept the app store: %v", err)
	}
	if data, err := os.ReadFile(keyringFile); err != nil || string(data) != "secret" {
		t.Errorf("overwrite touched the keyring: %q, %v", data, err)
	}
	if _, err := os.Stat(clientFile); err != nil {
		t.Errorf("overwrite deleted a file it does not own: %v", err)
	}
}

func TestInitHomeIntoDirWithOnlyForeignFiles(t *testing.T) {
	opts := testOptions(t)
	if err := os.MkdirAll(filepath.Join(opts.Home, "keyring"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(opts.Home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(opts.Home, "config", "client.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := InitHome(opts); err != nil {
		t.Fatalf("InitHome next to a keyring and a client config: %v", err)
	}
}

func TestConfigRoundTrip(t *testing.T) {
	opts := testOptions(t)
	h, err := InitHome(opts)
	if err != nil {
		t.Fatal(err)
	}
	c, err := h.Config()
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"root", c.RootDir, h.Dir()},
		{"moniker", c.Moniker, DefaultMoniker},
		{"db_backend", c.DBBackend, DefaultDBBackend},
		{"log_level", c.LogLevel, "info"},
		{"timeout_commit", c.Consensus.TimeoutCommit, TimeoutCommit},
		{"create_empty_blocks", c.Consensus.CreateEmptyBlocks, false},
		{"peer_gossip_sleep_duration", c.Consensus.PeerGossipSleepDuration, 5 * time.Millisecond},
		{"double_sign_check_height", c.Consensus.DoubleSignCheckHeight, int64(0)},
		{"rpc.laddr", c.RPC.ListenAddress, opts.RPCListen},
		{"p2p.laddr", c.P2P.ListenAddress, opts.P2PListen},
		{"tx_index", c.TxIndex.Indexer, "null"},
		{"pex", c.P2P.PexReactor, false},
		{"flush_throttle_timeout", c.P2P.FlushThrottleTimeout, P2PFlushThrottle},
		{"max_packet_msg_payload_size", c.P2P.MaxPacketMsgPayloadSize, 1024},
		{"mempool.size", c.Mempool.Size, mempoolSize},
		{"mempool.max_tx_bytes", c.Mempool.MaxTxBytes, mempoolMaxTxBytes},
		{"genesis file", c.GenesisFile(), h.GenesisFile()},
		{"db dir", c.DBDir(), h.DataDir()},
		{"wal", c.Consensus.WalFile(), filepath.Join(h.DataDir(), "cs.wal", "wal")},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
	if !strings.HasPrefix(c.RPC.ListenAddress, "tcp://127.0.0.1:") {
		t.Errorf("rpc not on loopback: %s", c.RPC.ListenAddress)
	}
	if d, err := NewConfig(h.Dir(), opts); err != nil || d.Consensus.TimeoutCommit != c.Consensus.TimeoutCommit || d.Mempool.CacheSize != c.Mempool.CacheSize {
		t.Error("config.toml differs from NewConfig")
	}
}

func TestDefaultRPCOnLoopback(t *testing.T) {
	c, err := NewConfig(t.TempDir(), InitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c.RPC.ListenAddress != "tcp://127.0.0.1:26657" || c.P2P.ListenAddress != "tcp://127.0.0.1:26656" {
		t.Errorf("rpc %s p2p %s", c.RPC.ListenAddress, c.P2P.ListenAddress)
	}
	if c.Moniker != "node0" {
		t.Errorf("moniker %q", c.Moniker)
	}
}

func TestConfigRejectsMovedPaths(t *testing.T) {
	h, err := InitHome(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(h.ConfigFile())
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(data), `genesis_file = "config/genesis.json"`, `genesis_file = "/elsewhere/genesis.json"`, 1)
	edited = strings.Replace(edited, `db_dir = "data"`, `db_dir = "db"`, 1)
	if edited == string(data) {
		t.Fatal("template changed: genesis_file line not found")
	}
	if err := os.WriteFile(h.ConfigFile(), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = h.Config()
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "genesis_file") || !strings.Contains(err.Error(), "db_dir") {
		t.Fatalf("Config() = %v, want ErrInvalidConfig naming genesis_file and db_dir", err)
	}

	if err := os.WriteFile(h.ConfigFile(), []byte("[consensus]\ntimeout_commit = 5\nbroken"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Config(); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Config() on bad TOML = %v, want ErrInvalidConfig", err)
	}
}

func TestOpenHomeNotInitialised(t *testing.T) {
	dir := t.TempDir()
	_, err := OpenHome(dir)
	if !errors.Is(err, ErrNotInitialised) {
		t.Fatalf("OpenHome(empty) = %v, want ErrNotInitialised", err)
	}
	if !strings.Contains(err.Error(), "dstt init") || !strings.Contains(err.Error(), "dstt start --dev") {
		t.Errorf("error does not tell the user what to run: %v", err)
	}
	if IsInitialised(dir) {
		t.Error("IsInitialised(empty) = true")
	}
	if _, err := OpenHome(filepath.Join(dir, "missing")); !errors.Is(err, ErrNotInitialised) {
		t.Errorf("OpenHome(missing) = %v", err)
	}

	h, err := InitHome(testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenHome(h.Dir()); err != nil {
		t.Fatalf("OpenHome(initialised) = %v", err)
	}
	if err := os.Remove(h.PrivValidatorStateFile()); err != nil {
		t.Fatal(err)
	}
	_, err = OpenHome(h.Dir())
	if !errors.Is(err, ErrNotInitialised) || !strings.Contains(err.Error(), "priv_validator_state.json") {
		t.Fatalf("OpenHome(partial) = %v", err)
	}
}

func TestInitOptionsValidateListsEveryProblem(t *testing.T) {
	err := InitOptions{
		ChainID:   strings.Repeat("x", 51),
		Moniker:   `bad"name`,
		AppState:  json.RawMessage(`{`),
		P2PListen: "127.0.0.1:26656",
		RPCListen: "tcp://127.0.0.1:0",
		DBBackend: "rocksdb",
	}.Validate()
	if !errors.Is(err, ErrInvalidOptions) {
		t.Fatalf("Validate = %v, want ErrInvalidOptions", err)
	}
	for _, want := range []string{"chain id", "moniker", "app state", "p2p listen", "rpc listen", "db backend"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
	if err := (InitOptions{}).Validate(); err != nil {
		t.Errorf("zero options: %v", err)
	}
	if _, err := InitHome(InitOptions{Home: t.TempDir(), ChainID: "has space"}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("InitHome with a bad chain id: %v", err)
	}
}

func TestDefaultHomeDir(t *testing.T) {
	t.Setenv(HomeEnv, "/tmp/dstt-home-env")
	if got := DefaultHomeDir(); got != "/tmp/dstt-home-env" {
		t.Errorf("with $%s: %q", HomeEnv, got)
	}
	t.Setenv(HomeEnv, "")
	t.Setenv("HOME", "/home/someone")
	if got := DefaultHomeDir(); got != "/home/someone/.dstt" {
		t.Errorf("without $%s: %q", HomeEnv, got)
	}
}

func TestGenesisParams(t *testing.T) {
	p := ConsensusParams()
	if err := p.ValidateBasic(); err != nil {
		t.Fatal(err)
	}
	// 10k txs of 200 bytes plus framing must fit in a block with 100 validators and a
	// full evidence budget.
	if got, need := types.MaxDataBytes(p.Block.MaxBytes, p.Evidence.MaxBytes, 100), int64(10_000*(200+3)); got < need {
		t.Errorf("max data bytes %d < %d", got, need)
	}
	if _, err := NewGenesis("c", time.Now(), nil, nil); err == nil {
		t.Error("NewGenesis without validators succeeded")
	}
}
