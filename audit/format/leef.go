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
// Header fields escape "\" and "|" with a backslash. Attribute values
// never contain the delimiter: "\" is written "\\", and TAB, CR and LF as
// \t, \r and \n. Predefined keys used: devTime with devTimeFormat, cat,
// sev (1-10), usrName, resource, identHostName; dstt keys: seq, height,
// txIndex, action, outcome, code, codeName, msg, txHash, hash, prevHash,
// resources (JSON array), chain, chainId.
type leefFormatter struct{ o Options }

const leefTimeFormat = "yyyy-MM-dd'T'HH:mm:ss.SSSX" // Java SimpleDateFormat, as QRadar reads it

func (leefFormatter) Name() string { return LEEF }

func (f leefFormatter) Append(dst []byte, e *audit.Entry) []byte {
	dst = append(dst, "LEEF:2.0|"...)
	for _, h := range []string{f.o.Vendor, f.o.Product, f.o.ProductVersion, string(e.Kind)} {
		dst = appendCEFHeader(dst, h)
		dst = append(dst, '|')
	}
	dst = append(dst, "x09|"...)
	x := leefAttrs{dst: dst}
	x.add("devTime", entryTime(e).Format("2006-01-02T15:04:05.000Z"))
	x.add("devTimeFormat", leefTimeFormat)
	x.add("cat", string(e.Kind))
	x.add("sev", strconv.Itoa(max(1, Severity(e))))
	x.add("usrName", e.Actor)
	if len(e.Resources) > 0 {
		x.add("resource", e.Resources[0])
	}
	x.add("identHostName", f.o.Hostname)
	x.add("seq", strconv.FormatUint(e.Seq, 10))
	x.add("height", strconv.FormatUint(e.Height, 10))
	x.add("txIndex", strconv.FormatUint(uint64(e.TxIndex), 10))
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
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			x.dst = append(x.dst, '\\', '\\')
		case '\t':
			x.dst = append(x.dst, '\\', 't')
		case '\n':
			x.dst = append(x.dst, '\\', 'n')
		case '\r':
			x.dst = append(x.dst, '\\', 'r')
		default:
			x.dst = append(x.dst, c)
		}
	}
}
