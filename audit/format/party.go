package format

import (
	"net"
	"strconv"
	"strings"

	"github.com/dstt/dstt/audit"
)

// Client identities as the REST gateway writes them into node-chain
// entries: "ip:<address>" for a client known only by its address, and
// "cert:<SHA-256 of its certificate, hex>" for one that presented a
// verified client certificate.
const (
	clientIPPrefix   = "ip:"
	clientCertPrefix = "cert:"
)

// parties is who and what an entry names, as every structured format maps
// it. One place decides it, so ECS, OCSF, CEF and LEEF agree.
type parties struct {
	// User is the identified principal that acted: a signer address, or a
	// client certificate identity "cert:HEX". "" when the entry names no
	// identified principal (an unauthenticated client, the node itself):
	// no user is made up for it.
	User string
	// ClientIP is the client's network address when the entry records it
	// (Entry.Endpoint, or an unauthenticated client's "ip:" identity in
	// entries written before endpoints were), else "". The node's own
	// address is never put here.
	ClientIP string
	// ClientCert is the SHA-256 (hex) of the client's verified certificate,
	// when the entry records the client by certificate.
	ClientCert string
	// Node is the node's own ID when the node itself is the actor
	// (node_started).
	Node string
	// Resources are what the action touched (client identities and the
	// count removed).
	Resources []string
	// Count is how many refusals a summary entry of the node chain stands
	// for (its resource "count:N"), else 0.
	Count uint64
}

// countPrefix marks the resource of a node-chain summary entry that says
// how many refusals it stands for (the REST gateway's bounded recording).
const countPrefix = "count:"

// partiesOf reads e's actor and resources:
//
//   - node_started: Actor is the node's ID;
//   - Actor "ip:ADDR": an unauthenticated client at ADDR, no user;
//   - Actor "cert:HEX": the user identified by that certificate;
//   - any other Actor: a signer address or reader, the user;
//   - checktx_rejected: the gateway records the submitting client's
//     identity (ip:/cert:) as the entry's resource; it is the client, not
//     a resource;
//   - a node-chain resource "count:N" (N > 0) is how many refusals a
//     summary entry stands for, not a resource;
//   - Endpoint, when it is an IP address, is the client's address, whatever
//     the identity says.
func partiesOf(e *audit.Entry) parties {
	var p parties
	switch {
	case e.Actor == "":
	case e.Kind == audit.KindNodeStarted:
		p.Node = e.Actor
	default:
		p.user(e.Actor)
	}
	for _, r := range e.Resources {
		if e.Kind == audit.KindCheckTxRejected && p.client(r) {
			continue
		}
		if n, ok := strings.CutPrefix(r, countPrefix); ok && isRefusalKind(e.Kind) && p.Count == 0 {
			if c, err := strconv.ParseUint(n, 10, 64); err == nil && c > 0 {
				p.Count = c
				continue
			}
		}
		p.Resources = append(p.Resources, r)
	}
	if net.ParseIP(e.Endpoint) != nil {
		p.ClientIP = e.Endpoint
	}
	return p
}

// user records actor as the acting principal, or as the client's address.
func (p *parties) user(actor string) {
	if !p.client(actor) {
		p.User = actor
		return
	}
	if strings.HasPrefix(actor, clientCertPrefix) {
		p.User = actor
	}
}

// client records id when it is a gateway client identity and reports
// whether it was one. An "ip:" identity whose address does not parse is
// not one.
func (p *parties) client(id string) bool {
	if ip, ok := strings.CutPrefix(id, clientIPPrefix); ok && net.ParseIP(ip) != nil {
		p.ClientIP = ip
		return true
	}
	if h, ok := strings.CutPrefix(id, clientCertPrefix); ok && isSHA256Hex(h) {
		p.ClientCert = h
		return true
	}
	return false
}

// isRefusalKind reports whether k is a refusal the REST gateway records,
// bounded, with summary entries.
func isRefusalKind(k audit.Kind) bool {
	switch k {
	case audit.KindCheckTxRejected, audit.KindAuthFailed:
		return true
	}
	return false
}

func isSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
