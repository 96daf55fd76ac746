package format

import (
	"strings"

	"github.com/dstt/dstt/audit"
)

// classify sets ev's class, activity and the class's own attributes.
func (f ocsfFormatter) classify(ev *ocsfEvent, e *audit.Entry, p parties) {
	switch e.Kind {
	case audit.KindAuthFailed:
		if p.User != "" {
			f.authentication(ev, p)
			return
		}
	case audit.KindPolicyChanged:
		if f.userAccess(ev, e, p) {
			return
		}
	case audit.KindEvidence:
		f.detection(ev, e, p)
		return
	case audit.KindNodeStarted, audit.KindNodeStopped, audit.KindConfigLoaded:
		f.lifecycle(ev, e)
		return
	case audit.KindNodeLogTruncated:
		f.eventLog(ev)
		return
	}
	f.webResources(ev, e, p)
}

func setClass(ev *ocsfEvent, class int, activity int, activityName string) {
	ev.ClassUID, ev.ActivityID, ev.ActivityName = class, activity, activityName
	switch class / 1000 {
	case 1:
		ev.CategoryUID, ev.CategoryName = 1, "System Activity"
	case 2:
		ev.CategoryUID, ev.CategoryName = 2, "Findings"
	case 3:
		ev.CategoryUID, ev.CategoryName = 3, "Identity & Access Management"
	case 6:
		ev.CategoryUID, ev.CategoryName = 6, "Application Activity"
	}
	ev.ClassName = map[int]string{
		ocsfEventLog: "Event Log Activity", ocsfDetection: "Detection Finding", ocsfAuth: "Authentication",
		ocsfUserAccess: "User Access Management", ocsfWebResource: "Web Resources Activity",
		ocsfLifecycle: "Application Lifecycle",
	}[class]
}

// actorUser is the acting principal as an OCSF actor, or nil.
func actorUser(p parties) *ocsfActor {
	if p.User == "" {
		return nil
	}
	return &ocsfActor{User: &ocsfUser{UID: p.User}}
}

func clientEndpoint(p parties) *ocsfEndpoint {
	if p.ClientIP == "" {
		return nil
	}
	return &ocsfEndpoint{IP: p.ClientIP}
}

// authentication: a failed logon by an identified principal.
func (f ocsfFormatter) authentication(ev *ocsfEvent, p parties) {
	setClass(ev, ocsfAuth, 1, "Logon")
	ev.User = &ocsfUser{UID: p.User}
	ev.Service = &ocsfNamed{Name: f.o.Product}
	ev.SrcEndpoint = clientEndpoint(p)
}

// userAccess maps a single grant or revoke whose resource
// "role:ROLE@DOMAIN:SUBJECT" splits one way only, and reports whether it
// did. (Role, domain and subject names may hold ':' and '@'; an ambiguous
// one goes to Web Resources Activity with the resource as written.)
func (f ocsfFormatter) userAccess(ev *ocsfEvent, e *audit.Entry, p parties) bool {
	if len(p.Resources) != 1 || (e.Action != "grant" && e.Action != "revoke") {
		return false
	}
	rest, ok := strings.CutPrefix(p.Resources[0], "role:")
	if !ok || strings.Count(rest, "@") != 1 {
		return false
	}
	role, rest, _ := strings.Cut(rest, "@")
	if strings.Count(rest, ":") != 1 || strings.Contains(role, ":") {
		return false
	}
	domain, subject, _ := strings.Cut(rest, ":")
	if role == "" || domain == "" || subject == "" {
		return false
	}
	if e.Action == "grant" {
		setClass(ev, ocsfUserAccess, 1, "Assign Privileges")
	} else {
		setClass(ev, ocsfUserAccess, 2, "Revoke Privileges")
	}
	ev.User = &ocsfUser{UID: subject}
	ev.Privileges = []string{role}
	ev.Resources = []ocsfResource{{UID: domain, Type: "domain"}}
	ev.Actor = actorUser(p)
	ev.SrcEndpoint = clientEndpoint(p)
	return true
}

// detection: misbehaviour evidence committed in a block, a finding.
func (f ocsfFormatter) detection(ev *ocsfEvent, e *audit.Entry, p parties) {
	setClass(ev, ocsfDetection, 1, "Create")
	ev.StatusID, ev.Status, ev.StatusCode, ev.StatusDetail = 1, "New", "", ""
	ev.FindingInfo = &ocsfFindingInfo{UID: ev.Metadata.UID, Title: Title(e.Kind), Types: []string{"validator_misbehaviour"}}
	alert := true
	ev.IsAlert = &alert
	for _, r := range p.Resources {
		typ, _, _ := strings.Cut(r, ":")
		ev.Resources = append(ev.Resources, ocsfResource{UID: r, Type: typ})
	}
}

// lifecycle: the node starting, stopping, or reading its configuration.
func (f ocsfFormatter) lifecycle(ev *ocsfEvent, e *audit.Entry) {
	switch e.Kind {
	case audit.KindNodeStarted:
		setClass(ev, ocsfLifecycle, 3, "Start")
	case audit.KindNodeStopped:
		setClass(ev, ocsfLifecycle, 4, "Stop")
	default:
		setClass(ev, ocsfLifecycle, 99, Title(e.Kind))
	}
	app := f.product()
	ev.App = &app
}

// eventLog: the node's security log was found damaged and truncated.
func (f ocsfFormatter) eventLog(ev *ocsfEvent) {
	setClass(ev, ocsfEventLog, 2, "Delete")
	ev.Actor = &ocsfActor{AppName: f.o.Product}
	ev.Device = &ocsfDevice{Hostname: f.o.Hostname, TypeID: 1, Type: "Server"}
	if f.o.Hostname == "" {
		ev.Device.Name = f.o.Product + " node"
	}
	ev.LogName, ev.LogProvider = "node", f.o.Product
}

// webResources: an action on keys or governance objects of the ledger.
func (f ocsfFormatter) webResources(ev *ocsfEvent, e *audit.Entry, p parties) {
	id, name := webActivity(e.Action)
	setClass(ev, ocsfWebResource, id, name)
	if ev.Actor = actorUser(p); ev.Actor != nil {
		ev.Metadata.Profiles = []string{"host"} // the class takes actor through the host profile
	}
	ev.SrcEndpoint = clientEndpoint(p)
	for _, r := range p.Resources {
		ev.WebResources = append(ev.WebResources, ocsfResource{UID: r})
	}
	if len(ev.WebResources) == 0 && len(e.TxHash) > 0 {
		ev.WebResources = []ocsfResource{{UID: hexOf(e.TxHash), Type: "tx"}}
	}
	if len(ev.WebResources) == 0 {
		ev.WebResources = []ocsfResource{{UID: cmpOr(f.o.ChainID, f.o.Chain), Type: "ledger"}}
	}
}

// webActivity is the Web Resources Activity activity of a dstt action.
func webActivity(action string) (int, string) {
	switch action {
	case "add_validator", "add_org":
		return 1, "Create"
	case "check", "read", "query":
		return 2, "Read"
	case "put", "grant", "revoke", "policy", "rotate_key":
		return 3, "Update"
	case "delete", "remove_validator", "remove_org":
		return 4, "Delete"
	}
	if action == "" {
		return 99, "Other"
	}
	return 99, action
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
