package sink

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/audit/format"
)

func TestLoadConfigExample(t *testing.T) {
	c, err := LoadConfig("testdata/audit.toml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Sinks) != 6 || c.Sinks[4].BatchSize != 500 || time.Duration(c.Sinks[4].MaxBackoff) != time.Minute {
		t.Fatalf("parsed %+v", c)
	}
	r := c.Resolve("/home/n")
	if r.NodeLog.Path != "/home/n/data/audit/node.log" || r.Sinks[0].CAFile != "/home/n/config/siem-ca.pem" {
		t.Fatalf("resolved %+v", r)
	}
	for _, s := range r.Sinks {
		if s.Type == TypeHTTP {
			t.Setenv(s.TokenEnv, "t")
		}
		if s.TLS {
			continue // the CA file does not exist here
		}
		sk, err := s.Build("host", "chain")
		if err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
		sk.Close()
	}
	if c.Sinks[4].withDefaults().Mode != ModeBulk || c.Sinks[3].withDefaults().Mode != ModeHEC ||
		time.Duration(c.Sinks[3].HECAckTimeout) != 5*time.Minute {
		t.Fatal("http modes not derived from the format")
	}
	// vendor, product and product_version reach the CEF/LEEF header.
	q := c.Sinks[1]
	f, err := format.New(q.Format, q.formatOptions("h", "c"))
	if err != nil {
		t.Fatal(err)
	}
	if rec := string(f.Append(nil, &audit.Entry{Seq: 1, Kind: audit.KindTxCommitted})); !strings.HasPrefix(rec, "LEEF:2.0|Example Corp|ledger|2.1|tx_committed|") {
		t.Fatalf("leef header: %s", rec)
	}
}

func TestLoadConfigMissingIsDefault(t *testing.T) {
	c, err := LoadConfig(filepath.Join(t.TempDir(), "none.toml"))
	if err != nil || c.NodeLog.Disabled || len(c.Sinks) != 0 || c.NodeLog.Path == "" {
		t.Fatalf("%+v %v", c, err)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(s string) string {
		p := filepath.Join(dir, "audit.toml")
		os.WriteFile(p, []byte(s), 0o600)
		return p
	}
	if _, err := LoadConfig(write("[[sink]]\nname = \"a\"\ntype = \"file\"\npath = \"x\"\nfomat = \"cef\"\n")); err == nil || !strings.Contains(err.Error(), "fomat") {
		t.Fatalf("unknown key: %v", err)
	}
	_, err := LoadConfig(write(`
[[sink]]
name = "a"
type = "syslog"
address = "nohost"
format = "xml"
[[sink]]
name = "a"
type = "http"
url = "ftp://x"
format = "cef"
mode = "hec"
[[sink]]
name = "bad name!"
type = "carrier-pigeon"
chain = "sideways"
vendor = "a|b"
[[sink]]
name = "h1"
type = "http"
url = "https://splunk.example:8088/hec"
hec_channel = "not-a-guid"
[[sink]]
name = "h2"
type = "http"
format = "ecs"
url = "https://es.example:9200/_bulk"
hec_ack = "received"
[[sink]]
name = "h3"
type = "http"
url = "https://splunk.example:8088/services/collector/event"
hec_ack = "maybe"
`))
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{`address "nohost"`, `unknown format "xml"`, "name used twice", `url "ftp://x"`,
		"mode hec needs format hec", `type "carrier-pigeon"`, `vendor "a|b"`, `chain "sideways"`, "name must be",
		`hec_channel "not-a-guid" is not a GUID`, "no /services/collector in its path", "hec_max_pending need mode hec", `hec_ack "maybe"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %s:\n%v", want, err)
		}
	}
}
