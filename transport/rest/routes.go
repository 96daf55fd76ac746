package rest

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/dstt/dstt/transport/api"
)

// Route names, used as the metrics' route label and in the OpenAPI test.
const (
	routeSubmit     = "submit"
	routeTx         = "tx"
	routeKV         = "kv"
	routeHistory    = "history"
	routeEvents     = "events"
	routeStatus     = "status"
	routeIdentity   = "identity"
	routeValidators = "validators"
	routeOrgs       = "orgs"
	routeOpenAPI    = "openapi"
	routeHealthz    = "healthz"
	routeReadyz     = "readyz"
	routeNone       = "none"
)

// routeSpec is one endpoint: method, the OpenAPI path and the route name.
type routeSpec struct {
	method, path, name string
}

// routes lists every endpoint; openapi.json documents exactly these.
var routes = append([]routeSpec{
	{http.MethodPost, "/v1/txs", routeSubmit},
	{http.MethodGet, "/v1/txs/{hash}", routeTx},
	{http.MethodGet, "/v1/kv/{key}", routeKV},
	{http.MethodGet, "/v1/kv/{key}/history", routeHistory},
	{http.MethodGet, "/v1/events", routeEvents},
	{http.MethodGet, "/v1/status", routeStatus},
	{http.MethodGet, "/v1/identities/{address}", routeIdentity},
	{http.MethodGet, "/v1/gov/validators", routeValidators},
	{http.MethodGet, "/v1/gov/orgs", routeOrgs},
	{http.MethodGet, "/v1/openapi.json", routeOpenAPI},
	{http.MethodGet, "/healthz", routeHealthz},
	{http.MethodGet, "/readyz", routeReadyz},
}, append(explorerRoutes, gtxRoutes...)...)

// match maps an escaped request path to a route name and its path
// parameter (a tx hash or an unescaped key). The router is hand-written,
// not http.ServeMux, because keys may hold "/", "." and ".." (escaped as
// one path segment, or raw), which ServeMux would clean and redirect.
func match(escapedPath string) (name, param string, err error) {
	switch escapedPath {
	case api.PathTxs:
		return routeSubmit, "", nil
	case api.PathEvents:
		return routeEvents, "", nil
	case api.PathStatus:
		return routeStatus, "", nil
	case api.PathValidators:
		return routeValidators, "", nil
	case api.PathOrgs:
		return routeOrgs, "", nil
	case api.PathOpenAPI:
		return routeOpenAPI, "", nil
	case api.PathHealthz:
		return routeHealthz, "", nil
	case api.PathReadyz:
		return routeReadyz, "", nil
	}
	if name, param := matchExplorer(escapedPath); name != routeNone {
		return name, param, nil
	}
	if name, param := matchGtx(escapedPath); name != routeNone {
		return name, param, nil
	}
	if rest, ok := strings.CutPrefix(escapedPath, api.PathTxs+"/"); ok && rest != "" && !strings.Contains(rest, "/") {
		return routeTx, rest, nil
	}
	if rest, ok := strings.CutPrefix(escapedPath, api.PathIdentities); ok && rest != "" && !strings.Contains(rest, "/") {
		return routeIdentity, rest, nil
	}
	if rest, ok := strings.CutPrefix(escapedPath, api.PathKV); ok && rest != "" {
		name := routeKV
		if k, ok := strings.CutSuffix(rest, "/history"); ok && k != "" {
			name, rest = routeHistory, k
		}
		key, err := pathUnescape(rest)
		if err != nil {
			return name, "", err
		}
		return name, key, nil
	}
	return routeNone, "", nil
}

var routeMethods = func() map[string]string {
	m := make(map[string]string, len(routes))
	for _, r := range routes {
		m[r.name] = r.method
	}
	return m
}()

func (g *Gateway) route(w http.ResponseWriter, r *http.Request) {
	name, param, err := match(r.URL.EscapedPath())
	if err != nil {
		writeProblem(w, r, api.NewProblem(api.ProblemBadRequest, "the key in the path is not validly escaped: "+err.Error()))
		return
	}
	if name == routeNone {
		writeProblem(w, r, api.NewProblem(api.ProblemNoRoute, fmt.Sprintf("no endpoint at %s; see GET %s", r.URL.Path, api.PathOpenAPI)))
		return
	}
	if name == routeUI {
		g.serveUI(w, r)
		return
	}
	if want := routeMethods[name]; r.Method != want && !(want == http.MethodGet && r.Method == http.MethodHead) {
		w.Header().Set("Allow", want)
		writeProblem(w, r, api.NewProblem(api.ProblemMethod, fmt.Sprintf("%s takes %s, not %s", r.URL.Path, want, r.Method)))
		return
	}
	switch name {
	case routeSubmit:
		g.handleSubmit(w, r)
	case routeTx:
		g.handleTx(w, r, param)
	case routeKV:
		g.handleKV(w, r, param)
	case routeHistory:
		g.handleHistory(w, r, param)
	case routeEvents:
		g.handleEvents(w, r)
	case routeStatus:
		g.handleStatus(w, r)
	case routeIdentity:
		g.handleIdentity(w, r, param)
	case routeValidators:
		g.handleValidators(w, r)
	case routeOrgs:
		g.handleOrgs(w, r)
	case routeOpenAPI:
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(openAPIDocument)
	case routeHealthz:
		g.handleHealthz(w, r)
	case routeReadyz:
		g.handleReadyz(w, r)
	default:
		if !g.routeGtxs(w, r, name, param) {
			g.routeExplorer(w, r, name, param)
		}
	}
}
