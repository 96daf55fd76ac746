package format

import (
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/dstt/dstt/audit"
)

// Formatter renders entries in one SIEM format. Append adds one record to
// dst, without a trailing newline (framing is the sink's job) and returns
// the extended slice. Formatters are safe for concurrent use.
type Formatter interface {
	Name() string
	Append(dst []byte, e *audit.Entry) []byte
}

// Options describe where entries come from; every format uses what it can.
// Zero values take the defaults of DefaultOptions.
type Options struct {
	Vendor         string // CEF/LEEF device vendor, ECS observer.vendor, OCSF product.vendor_name
	Product        string // CEF/LEEF device product
	ProductVersion string // CEF/LEEF device version
	Hostname       string // RFC 5424 HOSTNAME, CEF dvchost, ECS host.name, HEC host ("" = omitted / "-")
	AppName        string // RFC 5424 APP-NAME
	ProcID         string // RFC 5424 PROCID ("" = "-")
	Facility       int    // syslog facility, 0-23 (default 13, "log audit")
	SDID           string // RFC 5424 SD-ID of the entry's structured data
	Chain          string // which chain: "consensus" or "node"
	ChainID        string // the ledger's chain id
	HECSource      string // Splunk HEC "source" (default "dstt:CHAIN")
	HECSourceType  string // Splunk HEC "sourcetype"
	HECIndex       string // Splunk HEC "index" ("" = the token's default)
}

// DefaultOptions are the values used for zero fields.
func DefaultOptions() Options {
	return Options{
		Vendor: "dstt", Product: "dstt", ProductVersion: ProductVersion(), AppName: "dstt",
		Facility: 13, SDID: "dstt@32473", Chain: "consensus", HECSourceType: "dstt:audit",
	}
}

// ProductVersion is the version of this dstt build: the main module's
// version from the build information, or "dev" for a build from a source
// tree (the value `dstt version` prints).
func ProductVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	o.Vendor = cmp.Or(o.Vendor, d.Vendor)
	o.Product = cmp.Or(o.Product, d.Product)
	o.ProductVersion = cmp.Or(o.ProductVersion, d.ProductVersion)
	o.AppName = cmp.Or(o.AppName, d.AppName)
	o.Facility = cmp.Or(o.Facility, d.Facility)
	o.SDID = cmp.Or(o.SDID, d.SDID)
	o.Chain = cmp.Or(o.Chain, d.Chain)
	if o.HECSource == "" {
		o.HECSource = "dstt:" + o.Chain
	}
	o.HECSourceType = cmp.Or(o.HECSourceType, d.HECSourceType)
	return o
}

// Validate reports every unusable option at once.
func (o Options) Validate() error {
	var errs []string
	if o.Facility < 0 || o.Facility > 23 {
		errs = append(errs, fmt.Sprintf("facility %d is not 0-23", o.Facility))
	}
	if o.SDID != "" {
		if err := checkSDName(o.SDID); err != nil {
			errs = append(errs, fmt.Sprintf("sd_id %q: %v", o.SDID, err))
		} else if !strings.Contains(o.SDID, "@") {
			errs = append(errs, fmt.Sprintf("sd_id %q: a private SD-ID must be NAME@ENTERPRISE-NUMBER (RFC 5424 7.2.2)", o.SDID))
		}
	}
	for _, h := range []struct{ name, v string }{{"vendor", o.Vendor}, {"product", o.Product}, {"product_version", o.ProductVersion}} {
		if strings.ContainsFunc(h.v, func(r rune) bool { return r == '|' || r < 0x20 || r == 0x7f }) {
			errs = append(errs, fmt.Sprintf("%s %q: no \"|\" or control characters (CEF and LEEF header fields)", h.name, h.v))
		}
	}
	if o.Chain != "" && o.Chain != "consensus" && o.Chain != "node" {
		errs = append(errs, fmt.Sprintf("chain %q is not consensus or node", o.Chain))
	}
	if len(errs) > 0 {
		return fmt.Errorf("format: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Format names accepted by New.
const (
	CEF     = "cef"     // ArcSight Common Event Format
	LEEF    = "leef"    // IBM QRadar Log Event Extended Format 2.0
	RFC5424 = "rfc5424" // syslog with structured data
	ECS     = "ecs"     // Elastic Common Schema JSON
	OCSF    = "ocsf"    // Open Cybersecurity Schema Framework JSON
	HEC     = "hec"     // Splunk HTTP Event Collector JSON
	JSON    = "json"    // dstt's native JSON (round-trips; verifiable)
	Text    = "text"    // one human-readable line
)

// Names lists the formats New accepts.
func Names() []string { return []string{CEF, LEEF, RFC5424, ECS, OCSF, HEC, JSON, Text} }

// New returns the formatter called name.
func New(name string, opts Options) (Formatter, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	o := opts.withDefaults()
	switch name {
	case CEF:
		return cefFormatter{o}, nil
	case LEEF:
		return leefFormatter{o}, nil
	case RFC5424:
		return syslogFormatter{o}, nil
	case ECS:
		return ecsFormatter{o}, nil
	case OCSF:
		return ocsfFormatter{o}, nil
	case HEC:
		return hecFormatter{o}, nil
	case JSON:
		return jsonFormatter{}, nil
	case Text:
		return textFormatter{}, nil
	}
	return nil, fmt.Errorf("format: unknown format %q (want one of %s)", name, strings.Join(Names(), ", "))
}

// Severity rates an entry 0-10 (CEF's scale; LEEF and the other formats
// derive theirs from it).
func Severity(e *audit.Entry) int {
	switch e.Kind {
	case audit.KindEvidence:
		return 9
	case audit.KindNodeLogTruncated:
		return 8
	case audit.KindRBACDenied, audit.KindAuthFailed:
		return 7
	case audit.KindPolicyChanged, audit.KindValidatorChanged, audit.KindOrgChanged:
		return 6
	case audit.KindTxRejected:
		return 4
	case audit.KindCheckTxRejected:
		return 3
	case audit.KindNodeStarted, audit.KindNodeStopped, audit.KindConfigLoaded:
		return 2
	}
	if e.Code != 0 {
		return 4
	}
	return 1
}

// Success reports whether the entry records a successful outcome.
func Success(e *audit.Entry) bool {
	switch e.Kind {
	case audit.KindTxRejected, audit.KindRBACDenied, audit.KindCheckTxRejected, audit.KindAuthFailed, audit.KindNodeLogTruncated:
		return false
	}
	return e.Code == 0
}

func outcome(e *audit.Entry) string {
	if Success(e) {
		return "success"
	}
	return "failure"
}

var titles = map[audit.Kind]string{
	audit.KindTxCommitted:      "Transaction committed",
	audit.KindTxRejected:       "Transaction rejected in block",
	audit.KindRBACDenied:       "Access denied",
	audit.KindPolicyChanged:    "Access policy changed",
	audit.KindValidatorChanged: "Validator set changed",
	audit.KindOrgChanged:       "Member organisation changed",
	audit.KindEvidence:         "Validator misbehaviour evidence",
	audit.KindGtxStep:          "Global transaction step",
	audit.KindNodeStarted:      "Node started",
	audit.KindNodeStopped:      "Node stopped",
	audit.KindCheckTxRejected:  "Transaction refused by mempool",
	audit.KindAuthFailed:       "Authentication failed",
	audit.KindConfigLoaded:     "Configuration loaded",
	audit.KindNodeLogTruncated: "Node security log truncated",
}

// Title is a short human name for the entry's kind.
func Title(k audit.Kind) string {
	if t, ok := titles[k]; ok {
		return t
	}
	return string(k)
}

func hexOf(b []byte) string { return hex.EncodeToString(b) }

// resourcesJSON renders resource names as a JSON array: unambiguous
// whatever characters the keys hold.
func resourcesJSON(rs []string) string {
	if len(rs) == 0 {
		return ""
	}
	return string(appendJSON(nil, rs))
}

// eventID names an entry uniquely across chains: CHAIN/CHAINID/SEQ.
func eventID(o Options, e *audit.Entry) string {
	return fmt.Sprintf("%s/%s/%d", o.Chain, o.ChainID, e.Seq)
}

// syslogTime is RFC 5424's TIMESTAMP: UTC with exactly 6 fractional digits
// (the RFC allows at most 6; rsyslog mangles more).
const syslogTime = "2006-01-02T15:04:05.000000Z07:00"

// entryTime is a record's timestamp: the entry's event time, its commit
// time when known (audit.Entry.EventTime); timeSource names its clock.
func entryTime(e *audit.Entry) time.Time { t, _ := e.EventTime(); return t }

func timeSource(e *audit.Entry) string { _, s := e.EventTime(); return string(s) }

// blockTime is the entry's hashed Time field, for records that must let the
// entry be rebuilt and re-verified.
func blockTime(e *audit.Entry) time.Time { return e.Time.UTC() }

// textFormatter: SEQ HEIGHT.INDEX TIME KIND CODE_NAME [clock=block] actor=... action=... resources=... message
type textFormatter struct{}

func (textFormatter) Name() string { return Text }

func (textFormatter) Append(dst []byte, e *audit.Entry) []byte {
	dst = fmt.Appendf(dst, "%d %d.%d %s %s", e.Seq, e.Height, e.TxIndex, entryTime(e).Format(time.RFC3339Nano), e.Kind)
	if e.CodeName != "" {
		dst = fmt.Appendf(dst, " %s", e.CodeName)
	}
	if _, src := e.EventTime(); src == audit.TimeBlock { // the commit time is not known yet
		dst = append(dst, " clock=block"...)
	}
	if e.Actor != "" {
		dst = fmt.Appendf(dst, " actor=%s", e.Actor)
	}
	if e.Endpoint != "" {
		dst = fmt.Appendf(dst, " endpoint=%s", e.Endpoint)
	}
	if e.Action != "" {
		dst = fmt.Appendf(dst, " action=%s", e.Action)
	}
	if len(e.Resources) > 0 {
		dst = fmt.Appendf(dst, " resources=%s", resourcesJSON(e.Resources))
	}
	if e.Message != "" {
		dst = fmt.Appendf(dst, " %q", e.Message)
	}
	return dst
}

// jsonFormatter writes audit.Entry's native JSON.
type jsonFormatter struct{}

func (jsonFormatter) Name() string { return JSON }

func (jsonFormatter) Append(dst []byte, e *audit.Entry) []byte {
	b, err := e.MarshalJSON()
	if err != nil { // only strings and numbers: cannot fail
		panic(err)
	}
	return append(dst, b...)
}

// appendJSON marshals v without HTML escaping.
func appendJSON(dst []byte, v any) []byte {
	var sb strings.Builder
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err) // the structs here marshal
	}
	return append(dst, strings.TrimSuffix(sb.String(), "\n")...)
}

// nonEmpty returns the strings of ss that are not "".
func nonEmpty(ss ...string) []string {
	return slices.DeleteFunc(ss, func(s string) bool { return s == "" })
}
