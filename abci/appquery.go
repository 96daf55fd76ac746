package abci

import (
	"encoding/json"
	"fmt"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/dstt/dstt/abci/engine"
	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/types"
)

// queryRequest is one read as App.query serves it: the path's data, the
// height asked for (0: the latest), the reader ("" for an unsigned query),
// and the response, whose Key and Height a handler may set.
type queryRequest struct {
	data   []byte
	height uint64
	reader string
	resp   *abcitypes.ResponseQuery
}

// queryHandler serves one query path, returning the response value.
type queryHandler func(a *App, q queryRequest) ([]byte, error)

// queryHandlers are the read paths App.query serves (types.QuerySigned is
// unwrapped by Query before it gets there). Only looked up, never iterated.
var queryHandlers = map[string]queryHandler{
	types.QueryGet:        (*App).queryGet,
	types.QueryHistory:    (*App).queryHistory,
	types.QueryTx:         (*App).queryTx,
	types.QueryParams:     (*App).queryParams,
	types.QueryPolicy:     (*App).queryPolicy,
	audit.QueryEntries:    (*App).queryAuditEntries,
	audit.QueryHead:       (*App).queryAuditHead,
	types.QueryValidators: (*App).queryValidators,
	types.QueryOrgs:       (*App).queryOrgs,
	types.QueryIdentity:   (*App).queryIdentity,
	types.QueryCheck:      (*App).queryCheck,

	types.QueryGtx:            (*App).queryGtx,
	types.QueryGtxList:        (*App).queryGtxList,
	types.QueryGtxPending:     (*App).queryGtxPending,
	types.QueryGtxParticipant: (*App).queryGtxParticipant,
	types.QueryNodes:          (*App).queryNodes,
}

func (a *App) queryGet(q queryRequest) ([]byte, error) {
	e := a.reader
	key := string(q.data)
	if !e.CanRead(q.reader, key) {
		return nil, readDenied(q.reader, key)
	}
	kv, err := e.Get(key, q.height)
	if err != nil {
		return nil, err
	}
	q.resp.Key = q.data
	if q.height != 0 {
		q.resp.Height = int64(q.height)
	}
	return kv.Marshal()
}

func (a *App) queryHistory(q queryRequest) ([]byte, error) {
	e := a.reader
	var hreq types.HistoryRequest
	if err := hreq.Unmarshal(q.data); err != nil {
		return nil, fmt.Errorf("%w: history request: %v", engine.ErrBadQuery, err)
	}
	if !e.CanRead(q.reader, hreq.Key) {
		return nil, readDenied(q.reader, hreq.Key)
	}
	h, err := e.History(hreq)
	if err != nil {
		return nil, err
	}
	return h.Marshal()
}

func (a *App) queryTx(q queryRequest) ([]byte, error) {
	e := a.reader
	r, err := e.TxResult(q.data)
	if err != nil {
		return nil, err
	}
	if !e.Open() && r.Signer != q.reader {
		for _, w := range r.Writes {
			if !e.CanRead(q.reader, w.Key) {
				return nil, fmt.Errorf("%w: a tx's result is visible to its signer and to readers of every key it wrote; %s", engine.ErrUnauthorized, readDenied(q.reader, w.Key))
			}
		}
		// A tx that wrote no key (a grant, a policy or governance
		// change, or a failed tx) is visible to its signer, admins
		// and auditors: its result tells who was granted what.
		if len(r.Writes) == 0 && !e.MayReadPolicy(q.reader) {
			return nil, fmt.Errorf("%w: the result of a tx that wrote no key is visible to its signer, admins and auditors; %s", engine.ErrUnauthorized, readDenied(q.reader, "(policy)"))
		}
	}
	return r.Marshal()
}

func (a *App) queryParams(queryRequest) ([]byte, error) {
	e := a.reader
	return json.Marshal(e.ChainInfo())
}

func (a *App) queryPolicy(q queryRequest) ([]byte, error) {
	e := a.reader
	if err := e.PolicyReadable(q.reader); err != nil {
		return nil, err
	}
	return json.Marshal(e.PolicyView())
}

func (a *App) queryAuditEntries(q queryRequest) ([]byte, error) {
	e := a.reader
	if !e.CanRead(q.reader, types.AuditReadKey) {
		return nil, fmt.Errorf("%w: reading the audit log needs read on %q (e.g. dstt rbac allow auditor read 'audit/*'); %v", engine.ErrUnauthorized, types.AuditReadKey, readDenied(q.reader, types.AuditReadKey))
	}
	req, err := audit.DecodeEntriesRequest(q.data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", engine.ErrBadQuery, err)
	}
	r, err := e.AuditEntries(req)
	if err != nil {
		return nil, err
	}
	return r.Encode(), nil
}

func (a *App) queryAuditHead(q queryRequest) ([]byte, error) {
	h, err := a.reader.AuditHead(q.height)
	if err != nil {
		return nil, err
	}
	q.resp.Height = int64(h.Height)
	return h.Encode(), nil
}

// queryValidators is open to anyone: every block's commit names the
// validator set, so access control on this view would hide nothing.
func (a *App) queryValidators(queryRequest) ([]byte, error) {
	v, err := a.reader.Validators()
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func (a *App) queryOrgs(q queryRequest) ([]byte, error) {
	orgs, k, err := a.reader.Orgs()
	if err != nil {
		return nil, err
	}
	if err := a.membersReadable(q.reader, orgs, "", "the member orgs"); err != nil {
		return nil, err
	}
	return json.Marshal(types.OrgsView{Orgs: orgs, Threshold: k})
}

func (a *App) queryIdentity(q queryRequest) ([]byte, error) {
	v, err := a.reader.Identity(string(q.data))
	if err != nil {
		return nil, err
	}
	orgs, _, err := a.reader.Orgs()
	if err != nil {
		return nil, err
	}
	if err := a.membersReadable(q.reader, orgs, v.Identity, "an identity and its keys"); err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

// membersReadable is the one rule for the views that say who the members
// are (QueryOrgs, QueryIdentity): on a chain with access control they
// answer a signed read by an admin of a member org or by a policy reader
// (engine.Reader.MayReadPolicy: admins, the auditor role), and self (an
// identity, "" for none) may read its own. Anyone else gets ErrUnauthorized.
func (a *App) membersReadable(reader string, orgs []types.Org, self, what string) error {
	e := a.reader
	switch {
	case e.MayReadPolicy(reader), reader != "" && reader == self:
		return nil
	case reader == "":
		return fmt.Errorf("%w: this chain has access control: reading %s needs a signed query (dstt ... --from KEY) by an org admin, a policy reader (admins, the %q role) or, for an identity, a key of its own", engine.ErrUnauthorized, what, rbac.AuditorRole)
	case len(types.ApprovingOrgs([]string{reader}, orgs)) > 0:
		return nil
	}
	return fmt.Errorf("%w: %s may not read %s: readable by org admins, policy readers (admins, the %q role) and, for an identity, the identity itself", engine.ErrUnauthorized, reader, what, rbac.AuditorRole)
}

func (a *App) queryCheck(q queryRequest) ([]byte, error) {
	e := a.reader
	if q.reader == "" && !e.Open() {
		return nil, fmt.Errorf("%w: sign the query to ask the policy", engine.ErrUnauthorized)
	}
	if len(q.data) > engine.MaxCheckRequestBytes {
		return nil, fmt.Errorf("%w: check request is %d bytes, the limit is %d", engine.ErrBadQuery, len(q.data), engine.MaxCheckRequestBytes)
	}
	var c types.CheckRequest
	if err := json.Unmarshal(q.data, &c); err != nil {
		return nil, fmt.Errorf("%w: check request: %v", engine.ErrBadQuery, err)
	}
	res, err := e.Check(q.reader, c)
	if err != nil {
		return nil, err
	}
	return json.Marshal(res)
}
