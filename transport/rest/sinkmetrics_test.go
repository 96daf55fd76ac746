package rest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/dstt/dstt/audit/sink/hectest"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/internal/testnode"
)

// TestMetricsServeAuditSinks: the gateway's one metrics address serves the
// audit sinks' series beside its own. While the HEC receiver is down the
// lag grows with every committed block; once it is back, the sink catches
// up and the cursor reaches the head.
func TestMetricsServeAuditSinks(t *testing.T) {
	hec := hectest.Start("tok", nil)
	defer hec.Close()
	hec.SetBusy(1 << 30) // every request: 503 Server is busy
	n := testnode.Start(t, testnode.Options{AuditConfig: fmt.Sprintf(`
[[sink]]
name = "splunk"
type = "http"
format = "hec"
url = %q
token = "tok"
poll_interval = "10ms"
min_backoff = "10ms"
max_backoff = "50ms"
hec_ack_poll = "20ms"
`, hec.EventURL())})
	const (
		lag    = `dstt_audit_sink_lag_entries{chain="consensus",sink="splunk"}`
		cursor = `dstt_audit_sink_cursor_seq{chain="consensus",sink="splunk"}`
		up     = `dstt_audit_sink_up{chain="consensus",sink="splunk"}`
	)
	if o := commitOne(t, n, signTx(t, n, n.Admin, put("a", "1"))); o.Status != api.StatusCommitted {
		t.Fatalf("%+v", o)
	}
	waitFor(t, 30*time.Second, "a failed delivery", func() bool {
		v, ok := seriesValue(t, n, `dstt_audit_sink_failures_total{chain="consensus",sink="splunk"}`)
		return ok && v > 0
	})
	waitFor(t, 30*time.Second, "a lag", func() bool { return metricValue(t, n, lag) >= 1 })
	before := metricValue(t, n, lag)
	if metricValue(t, n, cursor) != 0 || metricValue(t, n, up) != 0 {
		t.Fatalf("during the outage: lag %v, cursor %v, up %v", before, metricValue(t, n, cursor), metricValue(t, n, up))
	}
	for i := range 3 {
		if o := commitOne(t, n, signTx(t, n, n.Admin, put(fmt.Sprint("b", i), "1"))); o.Status != api.StatusCommitted {
			t.Fatalf("%+v", o)
		}
	}
	// The store's audit head moves at Commit, which may trail the commit
	// answer by a moment: wait for it (here and above).
	waitFor(t, 30*time.Second, "the lag to grow by 3 during the outage", func() bool { return metricValue(t, n, lag) >= before+3 })
	if metricValue(t, n, cursor) != 0 || metricValue(t, n, up) != 0 {
		t.Fatal("delivered during the outage")
	}
	if metricValue(t, n, "dstt_block_height") < 1 { // the gateway's own series are still there
		t.Fatal("no block height")
	}
	hec.SetBusy(0)
	waitFor(t, 30*time.Second, "sink caught up", func() bool { return metricValue(t, n, lag) == 0 })
	head := metricValue(t, n, cursor)
	if head < before+3 || metricValue(t, n, up) != 1 || len(hec.Indexed()) < int(head) {
		t.Fatalf("caught up to cursor %v, up %v, HEC indexed %d", head, metricValue(t, n, up), len(hec.Indexed()))
	}
	checkMetricsDocumented(t, n)
}

// checkMetricsDocumented: every dstt_ series the node's metrics page
// carries has a row in docs/API.md or docs/AUDIT.md with its type.
func checkMetricsDocumented(t *testing.T, n *testnode.Node) {
	t.Helper()
	var docs []byte
	for _, f := range []string{"../../docs/API.md", "../../docs/AUDIT.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, b...)
	}
	page := do(t, http.MethodGet, n.Gateway.MetricsURL(), "", nil).body
	types := regexp.MustCompile(`(?m)^# TYPE (dstt_\w+) (\w+)$`).FindAllSubmatch(page, -1)
	if len(types) < 10 {
		t.Fatalf("only %d dstt_ series on the metrics page", len(types))
	}
	for _, m := range types {
		if row := fmt.Sprintf("| `%s` | %s |", m[1], m[2]); !bytes.Contains(docs, []byte(row)) {
			t.Errorf("docs/API.md and docs/AUDIT.md have no row %q", row)
		}
	}
}
