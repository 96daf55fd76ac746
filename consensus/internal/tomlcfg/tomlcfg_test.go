package tomlcfg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	cfg "github.com/cometbft/cometbft/config"
)

// roundTrip writes c with CometBFT's own template and reads it back over a default config.
func roundTrip(t *testing.T, c *cfg.Config) *cfg.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	cfg.WriteConfigFile(path, c)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.DefaultConfig()
	if err := Unmarshal(data, got); err != nil {
		t.Fatalf("Unmarshal: %v", err)
	}
	return got
}

func TestRoundTripDefaultConfig(t *testing.T) {
	want := cfg.DefaultConfig()
	if d := diff(roundTrip(t, want), want); d != nil {
		t.Fatalf("round trip changed the default config: %v", d)
	}
}

func TestRoundTripEveryTemplatedKind(t *testing.T) {
	// Start from zero-ish values that differ from the defaults, so a field the decoder
	// skips shows up as a difference.
	want := cfg.DefaultConfig()
	want.Moniker = `it's <html> & = unicode é`
	want.DBPath = `/tmp/it's a "path" with \ and <html>`
	want.LogLevel = "consensus:debug,*:error"
	want.FilterPeers = true
	want.EventBusBufferCapacity = 7
	want.RPC.ListenAddress = "tcp://127.0.0.1:1"
	want.RPC.CORSAllowedOrigins = []string{"https://a.example", "https://b.example"}
	want.RPC.CORSAllowedMethods = []string{"GET"}
	want.RPC.MaxBodyBytes = 1 << 40
	want.RPC.TimeoutBroadcastTxCommit = 1500 * time.Millisecond
	want.P2P.SendRate = 123
	want.P2P.LibP2PConfig.Enabled = true
	want.P2P.LibP2PConfig.BootstrapPeers = []cfg.LibP2PBootstrapPeer{
		{Host: "192.0.2.1:26656", ID: "12D3KooWA", Private: true},
		{Host: "192.0.2.2:26656", ID: "12D3KooWB", Persistent: true, Unconditional: true},
	}
	want.P2P.LibP2PConfig.Scaler.Overrides = append(want.P2P.LibP2PConfig.Scaler.Overrides,
		cfg.LibP2PScalerOverride{Reactor: "CONSENSUS", MinWorkers: 1, MaxWorkers: 2, ThresholdLatency: time.Second})
	want.Mempool.Type = cfg.MempoolTypeApp
	want.Mempool.ReapMaxBytes = 1 << 60
	want.StateSync.RPCServers = []string{"tcp://a:1", "tcp://b:2"}
	want.StateSync.ChunkFetchers = 9
	want.StateSync.MaxSnapshotChunks = 1 << 31
	want.Consensus.TimeoutCommit = 0
	want.Consensus.CreateEmptyBlocks = false
	want.Consensus.PeerGossipSleepDuration = 5 * time.Millisecond
	want.Consensus.DoubleSignCheckHeight = 3
	want.TxIndex.Indexer = "null"
	want.TxIndex.PsqlConn = "postgresql://u:p@h/db?x=1"
	want.Instrumentation.Prometheus = true

	if d := diff(roundTrip(t, want), want); d != nil {
		t.Fatalf("round trip mismatch: %v", d)
	}
}

func TestUnmarshalKeepsFieldsTheFileOmits(t *testing.T) {
	c := cfg.DefaultConfig()
	c.Moniker = "kept"
	err := Unmarshal([]byte("[consensus]\ntimeout_commit = \"250ms\"\nunknown_key = 1\n"), c)
	if err != nil {
		t.Fatal(err)
	}
	if c.Moniker != "kept" || c.Consensus.TimeoutCommit != 250*time.Millisecond {
		t.Fatalf("moniker %q timeout_commit %v", c.Moniker, c.Consensus.TimeoutCommit)
	}
	if c.Consensus.TimeoutPropose != cfg.DefaultConsensusConfig().TimeoutPropose {
		t.Fatalf("timeout_propose changed to %v", c.Consensus.TimeoutPropose)
	}
}

func TestParseValues(t *testing.T) {
	got, err := Parse([]byte(`
# comment
a = 1_000 # trailing
b = 0x10
c = 1.5e3
d = 'lit\eral'
"quoted key" = "\u00e9\t"
e.f = true
arr = [
  1, # one
  2,
]
inline = { x = "y", z = [ { w = 1 } ] }
[t.u]
v = []
[[list]]
n = 1
[[list]]
n = 2
[list.sub]
m = 3
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"a": int64(1000), "b": int64(16), "c": 1500.0, "d": `lit\eral`, "quoted key": "é\t",
		"e":      map[string]any{"f": true},
		"arr":    []any{int64(1), int64(2)},
		"inline": map[string]any{"x": "y", "z": []any{map[string]any{"w": int64(1)}}},
		"t":      map[string]any{"u": map[string]any{"v": []any{}}},
		"list": []any{
			map[string]any{"n": int64(1)},
			map[string]any{"n": int64(2), "sub": map[string]any{"m": int64(3)}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		`a = `,
		`a = "unterminated`,
		"a = \"new\nline\"",
		`a = """multi"""`,
		`a = 1979-05-27T07:32:00Z`,
		`a = 012`,
		`a = 1 b = 2`,
		"a = 1\na = 2",
		"[t]\n[t]",
		"a = 1\n[a]",
		`a = [1 2]`,
		`a = { b = 1 c = 2 }`,
		`a = "\q"`,
		`= 1`,
		`[t`,
		`a = inf`,
		`a = -0x10`,
	} {
		if _, err := Parse([]byte(src)); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, want ErrSyntax", src, err)
		}
	}
}

func TestUnmarshalReportsEveryTypeError(t *testing.T) {
	c := cfg.DefaultConfig()
	err := Unmarshal([]byte("moniker = [1]\n[consensus]\ntimeout_commit = \"soon\"\n[mempool]\nsize = -1.5\n"), c)
	if !errors.Is(err, ErrType) {
		t.Fatalf("err = %v, want ErrType", err)
	}
	for _, key := range []string{"moniker", "consensus.timeout_commit", "mempool.size"} {
		if !strings.Contains(err.Error(), key) {
			t.Errorf("error %q does not name %s", err, key)
		}
	}
}

// diff lists the paths where got and want differ (nil when they are deeply equal).
func diff(got, want any) []string {
	var out []string
	var walk func(g, w reflect.Value, path string)
	walk = func(g, w reflect.Value, path string) {
		switch g.Kind() {
		case reflect.Pointer:
			if g.IsNil() || w.IsNil() {
				if g.IsNil() != w.IsNil() {
					out = append(out, path+": nil mismatch")
				}
				return
			}
			walk(g.Elem(), w.Elem(), path)
		case reflect.Struct:
			for i := range g.NumField() {
				if g.Type().Field(i).IsExported() {
					walk(g.Field(i), w.Field(i), path+"."+g.Type().Field(i).Name)
				}
			}
		default:
			if !reflect.DeepEqual(g.Interface(), w.Interface()) {
				out = append(out, fmt.Sprintf("%s: got %#v want %#v", path, g.Interface(), w.Interface()))
			}
		}
	}
	walk(reflect.ValueOf(got), reflect.ValueOf(want), "")
	return out
}

func FuzzUnmarshal(f *testing.F) {
	path := filepath.Join(f.TempDir(), "config.toml")
	cfg.WriteConfigFile(path, cfg.DefaultConfig())
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`a = { b = [ { c = 'd' } ] }`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := cfg.DefaultConfig()
		_ = Unmarshal(data, c) // must not panic
	})
}
