package format

import (
	"strconv"
	"time"

	"github.com/dstt/dstt/audit"
)

// ECSVersion is the Elastic Common Schema version the ecs format follows.
const ECSVersion = "8.11.0"

// ecsFormatter writes one Elastic Common Schema document per entry. ECS
// fields carry what ECS defines (@timestamp, event.*, user.id, host.name,
// observer.*, message, labels); the rest is under the custom namespace
// "dstt.audit" (ECS reserves no such name). event.id is CHAIN/CHAINID/SEQ,
// unique across chains, so a bulk "create" with it as _id deduplicates
// re-sent entries.
type ecsFormatter struct{ o Options }

func (ecsFormatter) Name() string { return ECS }

type ecsDoc struct {
	Timestamp string      `json:"@timestamp"`
	ECS       ecsVersion  `json:"ecs"`
	Event     ecsEvent    `json:"event"`
	Message   string      `json:"message,omitempty"`
	User      *ecsUser    `json:"user,omitempty"`
	Host      *ecsHost    `json:"host,omitempty"`
	Observer  ecsObserver `json:"observer"`
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

type ecsUser struct {
	ID string `json:"id"`
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

type ecsLabels struct {
	ChainID string `json:"chain_id,omitempty"`
	Chain   string `json:"chain"`
}

type ecsDSTT struct {
	Audit ecsAudit `json:"audit"`
}

type ecsAudit struct {
	Seq       uint64   `json:"seq"`
	Height    uint64   `json:"height"`
	TxIndex   uint32   `json:"tx_index"`
	Time      string   `json:"time"`
	Kind      string   `json:"kind"`
	Action    string   `json:"action,omitempty"`
	Resources []string `json:"resources,omitempty"`
	Code      uint32   `json:"code"`
	CodeName  string   `json:"code_name,omitempty"`
	TxHash    string   `json:"tx_hash,omitempty"`
	PrevHash  string   `json:"prev_hash,omitempty"`
	Hash      string   `json:"hash"`
}

// ecsCategory maps a kind to ECS event.kind, event.category and event.type
// (values from ECS's allowed lists).
func ecsCategory(e *audit.Entry) (kind string, category, typ []string) {
	switch e.Kind {
	case audit.KindTxCommitted:
		if e.Action == "delete" {
			return "event", []string{"database"}, []string{"deletion"}
		}
		return "event", []string{"database"}, []string{"change"}
	case audit.KindTxRejected, audit.KindCheckTxRejected:
		return "event", []string{"database"}, []string{"error"}
	case audit.KindRBACDenied:
		return "event", []string{"database", "iam"}, []string{"access", "denied"}
	case audit.KindPolicyChanged:
		return "event", []string{"iam", "configuration"}, []string{"admin", "change"}
	case audit.KindValidatorChanged, audit.KindOrgChanged:
		return "event", []string{"configuration"}, []string{"change"}
	case audit.KindEvidence:
		return "alert", []string{"intrusion_detection"}, []string{"indicator"}
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
	kind, cat, typ := ecsCategory(e)
	d := ecsDoc{
		Timestamp: entryTime(e).Format(time.RFC3339Nano),
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
			Seq: e.Seq, Height: e.Height, TxIndex: e.TxIndex, Time: entryTime(e).Format(time.RFC3339Nano),
			Kind: string(e.Kind), Action: e.Action, Resources: e.Resources, Code: e.Code, CodeName: e.CodeName,
			TxHash: hexOf(e.TxHash), PrevHash: hexOf(e.PrevHash), Hash: hexOf(e.Hash),
		}},
	}
	if e.Actor != "" {
		d.User = &ecsUser{ID: e.Actor}
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
