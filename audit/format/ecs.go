package format

import (
	"strconv"
	"time"

	"github.com/dstt/dstt/audit"
)

// ECSVersion is the Elastic Common Schema version the ecs format follows;
// the tests check every document against that version's field table.
const ECSVersion = "9.4.0"

// ecsFormatter writes one Elastic Common Schema document per entry. ECS
// fields carry what ECS defines (@timestamp, event.*, user.id, source.ip,
// tls.client.hash.sha256, service.node.name, host.name, observer.*,
// related.*, message, labels); the rest is under the custom field set
// "dstt.audit" (ECS defines no "dstt" field set). event.id is
// CHAIN/CHAINID/SEQ, unique across chains, so a bulk "create" with it as
// _id deduplicates re-sent entries. docs/SIEM-FORMATS.md has the mapping.
type ecsFormatter struct{ o Options }

func (ecsFormatter) Name() string { return ECS }

type ecsDoc struct {
	Timestamp string      `json:"@timestamp"`
	ECS       ecsVersion  `json:"ecs"`
	Event     ecsEvent    `json:"event"`
	Message   string      `json:"message,omitempty"`
	User      *ecsID      `json:"user,omitempty"`
	Source    *ecsIP      `json:"source,omitempty"`
	TLS       *ecsTLS     `json:"tls,omitempty"`
	Service   *ecsService `json:"service,omitempty"`
	Host      *ecsHost    `json:"host,omitempty"`
	Observer  ecsObserver `json:"observer"`
	Related   *ecsRelated `json:"related,omitempty"`
	Labels    ecsLabels   `json:"labels"`
	DSTT      ecsDSTT     `json:"dstt"`
}

type ecsVersion struct {
	Version string `json:"version"`
}

type ecsEvent struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Category []string `json:"category"`
	Type     []string `json:"type"`
	Action   string   `json:"action"`
	Outcome  string   `json:"outcome"`
	Code     string   `json:"code"`
	Reason   string   `json:"reason,omitempty"`
	Severity int      `json:"severity"`
	Sequence uint64   `json:"sequence"`
	Dataset  string   `json:"dataset"`
	Provider string   `json:"provider"`
	Module   string   `json:"module"`
}

type ecsID struct {
	ID string `json:"id"`
}

type ecsIP struct {
	IP string `json:"ip"`
}

type ecsTLS struct {
	Client ecsTLSClient `json:"client"`
}

type ecsTLSClient struct {
	Hash ecsHash `json:"hash"`
}

type ecsHash struct {
	SHA256 string `json:"sha256"`
}

type ecsService struct {
	Node ecsName `json:"node"`
}

type ecsName struct {
	Name string `json:"name"`
}

type ecsHost struct {
	Name string `json:"name"`
}

type ecsObserver struct {
	Vendor   string `json:"vendor"`
	Product  string `json:"product"`
	Version  string `json:"version"`
	Hostname string `json:"hostname,omitempty"`
	Type     string `json:"type"`
}

type ecsRelated struct {
	User []string `json:"user,omitempty"`
	IP   []string `json:"ip,omitempty"`
	Hash []string `json:"hash,omitempty"`
}

type ecsLabels struct {
	ChainID string `json:"chain_id,omitempty"`
	Chain   string `json:"chain"`
}

type ecsDSTT struct {
	Audit ecsAudit `json:"audit"`
}

type ecsAudit struct {
	Seq        uint64   `json:"seq"`
	Height     uint64   `json:"height"`
	TxIndex    uint32   `json:"tx_index"`
	Time       string   `json:"time"`
	TimeSource string   `json:"time_source"`
	Kind       string   `json:"kind"`
	Actor      string   `json:"actor,omitempty"`
	Endpoint   string   `json:"endpoint,omitempty"`
	Action     string   `json:"action,omitempty"`
	Resources  []string `json:"resources,omitempty"`
	Code       uint32   `json:"code"`
	CodeName   string   `json:"code_name,omitempty"`
	TxHash     string   `json:"tx_hash,omitempty"`
	PrevHash   string   `json:"prev_hash,omitempty"`
	Hash       string   `json:"hash"`
}

// ecsCategory maps a kind to ECS event.kind, event.category and event.type.
// Every type is one ECS lists as expected for every category given
// (event.category's allowed_values, expected_event_types), which the
// tests check against the ECS field table.
func ecsCategory(k audit.Kind) (kind string, category, typ []string) {
	switch k {
	case audit.KindTxCommitted: // a ledger write: put, delete, check, batch
		return "event", []string{"database"}, []string{"change"}
	case audit.KindTxRejected, audit.KindCheckTxRejected:
		return "event", []string{"database"}, []string{"error"}
	case audit.KindRBACDenied:
		return "event", []string{"api"}, []string{"access", "denied"}
	case audit.KindPolicyChanged:
		return "event", []string{"iam", "configuration"}, []string{"change"}
	case audit.KindValidatorChanged, audit.KindOrgChanged:
		return "event", []string{"configuration"}, []string{"change"}
	case audit.KindEvidence:
		return "alert", []string{"intrusion_detection"}, []string{"info"}
	case audit.KindNodeStarted:
		return "event", []string{"process"}, []string{"start"}
	case audit.KindNodeStopped:
		return "event", []string{"process"}, []string{"end"}
	case audit.KindAuthFailed:
		return "event", []string{"authentication"}, []string{"start"}
	case audit.KindConfigLoaded:
		return "event", []string{"configuration"}, []string{"access"}
	case audit.KindNodeLogTruncated:
		return "alert", []string{"file"}, []string{"deletion"}
	}
	return "event", []string{"database"}, []string{"info"}
}

func (f ecsFormatter) Append(dst []byte, e *audit.Entry) []byte {
	kind, cat, typ := ecsCategory(e.Kind)
	ts := entryTime(e).Format(time.RFC3339Nano)
	d := ecsDoc{
		Timestamp: ts,
		ECS:       ecsVersion{ECSVersion},
		Event: ecsEvent{
			ID: eventID(f.o, e), Kind: kind, Category: cat, Type: typ, Action: string(e.Kind),
			Outcome: outcome(e), Code: strconv.FormatUint(uint64(e.Code), 10), Reason: e.CodeName,
			Severity: Severity(e), Sequence: e.Seq, Dataset: "dstt.audit", Provider: f.o.Chain, Module: "dstt",
		},
		Message:  e.Message,
		Observer: ecsObserver{Vendor: f.o.Vendor, Product: f.o.Product, Version: f.o.ProductVersion, Hostname: f.o.Hostname, Type: "ledger"},
		Labels:   ecsLabels{ChainID: f.o.ChainID, Chain: f.o.Chain},
		DSTT: ecsDSTT{Audit: ecsAudit{
			Seq: e.Seq, Height: e.Height, TxIndex: e.TxIndex, Time: blockTime(e).Format(time.RFC3339Nano), TimeSource: timeSource(e), Kind: string(e.Kind), Actor: e.Actor,
			Endpoint: e.Endpoint, Action: e.Action, Resources: e.Resources, Code: e.Code, CodeName: e.CodeName,
			TxHash: hexOf(e.TxHash), PrevHash: hexOf(e.PrevHash), Hash: hexOf(e.Hash),
		}},
	}
	p := partiesOf(e)
	related := ecsRelated{Hash: nonEmpty(hexOf(e.TxHash))}
	if p.User != "" {
		d.User = &ecsID{ID: p.User}
		related.User = []string{p.User}
	}
	if p.ClientIP != "" {
		d.Source = &ecsIP{IP: p.ClientIP}
		related.IP = []string{p.ClientIP}
	}
	if p.ClientCert != "" {
		d.TLS = &ecsTLS{Client: ecsTLSClient{Hash: ecsHash{SHA256: p.ClientCert}}}
		related.Hash = append(related.Hash, p.ClientCert)
	}
	if p.Node != "" {
		d.Service = &ecsService{Node: ecsName{Name: p.Node}}
	}
	if len(related.User)+len(related.IP)+len(related.Hash) > 0 {
		d.Related = &related
	}
	if f.o.Hostname != "" {
		d.Host = &ecsHost{Name: f.o.Hostname}
	}
	return appendJSON(dst, d)
}

// ECSDocumentID is the _id an Elasticsearch bulk "create" should use for
// e: the same as event.id.
func ECSDocumentID(opts Options, e *audit.Entry) string {
	return eventID(opts.withDefaults(), e)
}
