package format

import (
	"time"

	"github.com/dstt/dstt/audit"
)

// OCSFVersion is the OCSF schema version the ocsf format follows; the
// tests validate every entry kind against that release's schema files.
const OCSFVersion = "1.8.0"

// OCSF classes used (category uid * 1000 + class uid).
const (
	ocsfEventLog    = 1008 // System Activity: Event Log Activity
	ocsfDetection   = 2004 // Findings: Detection Finding
	ocsfAuth        = 3002 // Identity & Access Management: Authentication
	ocsfUserAccess  = 3005 // Identity & Access Management: User Access Management
	ocsfWebResource = 6001 // Application Activity: Web Resources Activity
	ocsfLifecycle   = 6002 // Application Activity: Application Lifecycle
)

// ocsfFormatter writes one OCSF event per entry; the class depends on the
// kind and on what the entry names (docs/SIEM-FORMATS.md has the table):
//
//   - auth_failed by an identified principal: Authentication (3002), Logon,
//     status Failure; by a client known only by address, or by nobody: Web
//     Resources Activity (6001), status Failure (Authentication requires a
//     user, and none is made up);
//   - policy_changed by one grant or revoke: User Access Management (3005),
//     Assign or Revoke Privileges: user = the subject, privileges = the
//     role, resources = the domain;
//   - evidence: Detection Finding (2004);
//   - node_started, node_stopped, config_loaded: Application Lifecycle
//     (6002);
//   - node_log_truncated: Event Log Activity (1008), Delete;
//   - everything else (ledger writes, rejections, denials, governance):
//     Web Resources Activity (6001), the keys or governance objects as
//     web_resources, activity Create/Read/Update/Delete from the action.
//
// The client's src_endpoint is written only when the entry records the
// client's address; the node's own address is never put there. Fields
// OCSF has no place for are under "unmapped".
type ocsfFormatter struct{ o Options }

func (ocsfFormatter) Name() string { return OCSF }

type ocsfEvent struct {
	ActivityID   int              `json:"activity_id"`
	ActivityName string           `json:"activity_name"`
	CategoryUID  int              `json:"category_uid"`
	CategoryName string           `json:"category_name"`
	ClassUID     int              `json:"class_uid"`
	ClassName    string           `json:"class_name"`
	TypeUID      int              `json:"type_uid"`
	SeverityID   int              `json:"severity_id"`
	Severity     string           `json:"severity"`
	StatusID     int              `json:"status_id"`
	Status       string           `json:"status"`
	StatusCode   string           `json:"status_code,omitempty"`
	StatusDetail string           `json:"status_detail,omitempty"`
	Time         int64            `json:"time"`
	Message      string           `json:"message,omitempty"`
	Metadata     ocsfMetadata     `json:"metadata"`
	Actor        *ocsfActor       `json:"actor,omitempty"`
	User         *ocsfUser        `json:"user,omitempty"`
	Service      *ocsfNamed       `json:"service,omitempty"`
	SrcEndpoint  *ocsfEndpoint    `json:"src_endpoint,omitempty"`
	Privileges   []string         `json:"privileges,omitempty"`
	Resources    []ocsfResource   `json:"resources,omitempty"`
	WebResources []ocsfResource   `json:"web_resources,omitempty"`
	FindingInfo  *ocsfFindingInfo `json:"finding_info,omitempty"`
	IsAlert      *bool            `json:"is_alert,omitempty"`
	App          *ocsfProduct     `json:"app,omitempty"`
	Device       *ocsfDevice      `json:"device,omitempty"`
	LogName      string           `json:"log_name,omitempty"`
	LogProvider  string           `json:"log_provider,omitempty"`
	Count        uint64           `json:"count,omitempty"`
	Unmapped     ocsfUnmapped     `json:"unmapped"`
}

type ocsfMetadata struct {
	Version      string      `json:"version"`
	Product      ocsfProduct `json:"product"`
	Profiles     []string    `json:"profiles,omitempty"`
	UID          string      `json:"uid"`
	Sequence     uint64      `json:"sequence"`
	LogName      string      `json:"log_name"`
	OriginalTime string      `json:"original_time"`
}

type ocsfProduct struct {
	Name       string `json:"name"`
	VendorName string `json:"vendor_name"`
	Version    string `json:"version"`
}

type ocsfActor struct {
	User    *ocsfUser `json:"user,omitempty"`
	AppName string    `json:"app_name,omitempty"`
}

type ocsfUser struct {
	UID string `json:"uid"`
}

type ocsfNamed struct {
	Name string `json:"name"`
}

type ocsfEndpoint struct {
	IP string `json:"ip"`
}

type ocsfResource struct {
	UID  string `json:"uid"`
	Type string `json:"type,omitempty"`
}

type ocsfFindingInfo struct {
	UID   string   `json:"uid"`
	Title string   `json:"title"`
	Types []string `json:"types,omitempty"`
}

type ocsfDevice struct {
	Hostname string `json:"hostname,omitempty"`
	Name     string `json:"name,omitempty"`
	TypeID   int    `json:"type_id"`
	Type     string `json:"type"`
}

type ocsfUnmapped struct {
	Kind       string   `json:"kind"`
	TimeSource string   `json:"time_source"`
	Height     uint64   `json:"height"`
	TxIndex    uint32   `json:"tx_index"`
	Actor      string   `json:"actor,omitempty"`
	Endpoint   string   `json:"endpoint,omitempty"`
	Action     string   `json:"action,omitempty"`
	Resources  []string `json:"resources,omitempty"`
	Code       uint32   `json:"code"`
	TxHash     string   `json:"tx_hash,omitempty"`
	PrevHash   string   `json:"prev_hash,omitempty"`
	Hash       string   `json:"hash"`
	ChainID    string   `json:"chain_id,omitempty"`
}

var ocsfSeverities = []string{"Unknown", "Informational", "Low", "Medium", "High", "Critical"}

func ocsfSeverity(e *audit.Entry) int {
	switch s := Severity(e); {
	case s >= 9:
		return 5
	case s >= 7:
		return 4
	case s >= 5:
		return 3
	case s >= 3:
		return 2
	}
	return 1
}

func (f ocsfFormatter) Append(dst []byte, e *audit.Entry) []byte {
	t := entryTime(e)
	ev := ocsfEvent{
		Time:    t.UnixMilli(),
		Message: e.Message,
		Metadata: ocsfMetadata{
			Version: OCSFVersion, Product: f.product(), UID: eventID(f.o, e), Sequence: e.Seq,
			LogName: f.o.Chain, OriginalTime: t.Format(time.RFC3339Nano),
		},
		Unmapped: ocsfUnmapped{
			Kind: string(e.Kind), TimeSource: timeSource(e), Height: e.Height, TxIndex: e.TxIndex, Actor: e.Actor, Endpoint: e.Endpoint,
			Action: e.Action, Resources: e.Resources, Code: e.Code, TxHash: hexOf(e.TxHash), PrevHash: hexOf(e.PrevHash),
			Hash: hexOf(e.Hash), ChainID: f.o.ChainID,
		},
	}
	ev.SeverityID = ocsfSeverity(e)
	ev.Severity = ocsfSeverities[ev.SeverityID]
	ev.StatusID, ev.Status, ev.StatusCode = 1, "Success", e.CodeName
	if !Success(e) {
		ev.StatusID, ev.Status, ev.StatusDetail = 2, "Failure", e.Message
	}
	p := partiesOf(e)
	f.classify(&ev, e, p)
	ev.Count = p.Count
	ev.TypeUID = ev.ClassUID*100 + ev.ActivityID
	return appendJSON(dst, ev)
}

func (f ocsfFormatter) product() ocsfProduct {
	return ocsfProduct{Name: f.o.Product, VendorName: f.o.Vendor, Version: f.o.ProductVersion}
}
