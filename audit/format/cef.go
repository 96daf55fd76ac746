package format

import (
	"net"
	"strconv"

	"github.com/dstt/dstt/audit"
)

// cefFormatter writes ArcSight CEF:
//
//	CEF:0|Vendor|Product|Version|SignatureID|Name|Severity|Extension
//
// Header fields escape "\" and "|" with a backslash and have no line
// breaks (replaced by spaces). Extension values escape "\" and "=" with a
// backslash and write CR and LF as \r and \n; "|" needs no escaping there.
// Extension keys used (standard CEF dictionary, then labelled custom
// fields): rt (ms since the epoch), externalId (seq), cat (chain), act,
// suser (the identified principal, never made up), src or c6a2 (the
// client's IPv4 or IPv6 address, when the entry records it),
// deviceExternalId (the node's ID, when the node is the actor), outcome,
// reason (code name), msg, dvchost, cn1 height,
// cn2 txIndex, cn3 code, cs1 txHash, cs2 entryHash, cs3 prevHash,
// cs4 resources (a JSON array), cs5 chainId, cs6 kind.
type cefFormatter struct{ o Options }

func (cefFormatter) Name() string { return CEF }

func (f cefFormatter) Append(dst []byte, e *audit.Entry) []byte {
	dst = append(dst, "CEF:0|"...)
	for _, h := range []string{f.o.Vendor, f.o.Product, f.o.ProductVersion, string(e.Kind), Title(e.Kind)} {
		dst = appendCEFHeader(dst, h)
		dst = append(dst, '|')
	}
	dst = strconv.AppendInt(dst, int64(Severity(e)), 10)
	dst = append(dst, '|')
	ext := cefExt{dst: dst}
	ext.num("rt", uint64(entryTime(e).UnixMilli()))
	ext.num("externalId", e.Seq)
	ext.labelled("flexString1", "timeSource", timeSource(e))
	ext.str("cat", f.o.Chain)
	ext.str("act", e.Action)
	p := partiesOf(e)
	ext.str("suser", p.User)
	if ip := net.ParseIP(p.ClientIP); ip.To4() != nil {
		ext.str("src", p.ClientIP)
	} else if ip != nil {
		ext.labelled("c6a2", "sourceIPv6Address", p.ClientIP)
	}
	ext.str("deviceExternalId", p.Node)
	if p.Count > 0 {
		ext.num("cnt", p.Count)
	}
	ext.str("outcome", outcome(e))
	ext.str("reason", e.CodeName)
	ext.str("msg", e.Message)
	ext.str("dvchost", f.o.Hostname)
	ext.labelled("cn1", "height", strconv.FormatUint(e.Height, 10))
	ext.labelled("cn2", "txIndex", strconv.FormatUint(uint64(e.TxIndex), 10))
	ext.labelled("cn3", "code", strconv.FormatUint(uint64(e.Code), 10))
	ext.labelled("cs1", "txHash", hexOf(e.TxHash))
	ext.labelled("cs2", "entryHash", hexOf(e.Hash))
	ext.labelled("cs3", "prevHash", hexOf(e.PrevHash))
	ext.labelled("cs4", "resources", resourcesJSON(e.Resources))
	ext.labelled("cs5", "chainId", f.o.ChainID)
	ext.labelled("cs6", "kind", string(e.Kind))
	return ext.dst
}

func appendCEFHeader(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '|':
			dst = append(dst, '\\', c)
		case '\r', '\n':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

func appendCEFValue(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\', '=':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// cefExt appends space-separated key=value pairs, skipping empty values.
type cefExt struct {
	dst     []byte
	started bool // a pair was written: the next needs a separator
}

func (x *cefExt) key(k string) {
	if x.started {
		x.dst = append(x.dst, ' ')
	}
	x.started = true
	x.dst = append(x.dst, k...)
	x.dst = append(x.dst, '=')
}

func (x *cefExt) str(k, v string) {
	if v == "" {
		return
	}
	x.key(k)
	x.dst = appendCEFValue(x.dst, v)
}

func (x *cefExt) num(k string, v uint64) {
	x.key(k)
	x.dst = strconv.AppendUint(x.dst, v, 10)
}

func (x *cefExt) labelled(k, label, v string) {
	if v == "" {
		return
	}
	x.str(k+"Label", label)
	x.str(k, v)
}
