package format

import (
	"strconv"

	"github.com/dstt/dstt/audit"
)

// leefFormatter writes IBM QRadar LEEF 2.0 with a tab delimiter, declared
// in the header as x09:
//
//	LEEF:2.0|Vendor|Product|Version|EventID|x09|key=value<TAB>key=value...
//
// LEEF defines no escape sequences, so none are written: a value is
// everything between "key=" and the next delimiter, byte for byte. The
// header fields cannot hold "|" or line breaks (Options.Validate refuses
// such a vendor, product or version; the event ID is the entry's kind).
// Attribute values cannot hold the delimiter or a line break (the record
// is one line): TAB, CR and LF in a value are written as a space. That is
// the only change to a value; the exact strings are in the rfc5424 and
// json formats. Predefined keys used: devTime with devTimeFormat, cat, sev
// (1-10), usrName (the identified principal, never made up), src (the
// client's address, when the entry records it), resource, identHostName;
// dstt keys: seq, height, txIndex, actor (as recorded), nodeId, action,
// outcome, code, codeName, msg, txHash, hash, prevHash, resources (JSON
// array), chain, chainId.
type leefFormatter struct{ o Options }

const leefTimeFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSX" // Java SimpleDateFormat, as QRadar reads it

func (leefFormatter) Name() string { return LEEF }

func (f leefFormatter) Append(dst []byte, e *audit.Entry) []byte {
	dst = append(dst, "LEEF:2.0|"...)
	for _, h := range []string{f.o.Vendor, f.o.Product, f.o.ProductVersion, string(e.Kind)} {
		dst = appendLEEFValue(dst, h)
		dst = append(dst, '|')
	}
	dst = append(dst, "x09|"...)
	p := partiesOf(e)
	x := leefAttrs{dst: dst}
	x.add("devTime", entryTime(e).Format("2006-01-02T15:04:05.000Z"))
	x.add("devTimeFormat", leefTimeFormat)
	x.add("timeSource", timeSource(e))
	x.add("cat", string(e.Kind))
	x.add("sev", strconv.Itoa(max(1, Severity(e))))
	x.add("usrName", p.User)
	x.add("src", p.ClientIP)
	if len(p.Resources) > 0 {
		x.add("resource", p.Resources[0])
	}
	x.add("identHostName", f.o.Hostname)
	x.add("seq", strconv.FormatUint(e.Seq, 10))
	x.add("height", strconv.FormatUint(e.Height, 10))
	x.add("txIndex", strconv.FormatUint(uint64(e.TxIndex), 10))
	x.add("actor", e.Actor)
	x.add("nodeId", p.Node)
	x.add("action", e.Action)
	x.add("outcome", outcome(e))
	x.add("code", strconv.FormatUint(uint64(e.Code), 10))
	x.add("codeName", e.CodeName)
	x.add("msg", e.Message)
	x.add("txHash", hexOf(e.TxHash))
	x.add("hash", hexOf(e.Hash))
	x.add("prevHash", hexOf(e.PrevHash))
	x.add("resources", resourcesJSON(e.Resources))
	x.add("chain", f.o.Chain)
	x.add("chainId", f.o.ChainID)
	return x.dst
}

type leefAttrs struct {
	dst []byte
	n   int
}

func (x *leefAttrs) add(k, v string) {
	if v == "" {
		return
	}
	if x.n > 0 {
		x.dst = append(x.dst, '\t')
	}
	x.n++
	x.dst = append(x.dst, k...)
	x.dst = append(x.dst, '=')
	x.dst = appendLEEFValue(x.dst, v)
}

// appendLEEFValue writes v with TAB, CR and LF as spaces: the only bytes a
// LEEF value or header field (whose "|" Options.Validate keeps out) cannot
// carry here.
func appendLEEFValue(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\t', '\r', '\n':
			dst = append(dst, ' ')
		default:
			dst = append(dst, c)
		}
	}
	return dst
}
