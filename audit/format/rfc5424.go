package format

import (
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/dstt/dstt/audit"
)

// syslogFormatter writes RFC 5424 messages:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD-ID param="value" ...] MSG
//
// PRI = facility*8 + severity (Severity 9-10 -> 2 crit, 7-8 -> 4 warning,
// 4-6 -> 5 notice, else 6 info). TIMESTAMP is UTC with exactly six
// fractional digits (the RFC's maximum). HOSTNAME, APP-NAME and PROCID are
// cut to their RFC lengths (255, 48, 128) and any byte outside printable
// US-ASCII becomes "_"; empty ones are "-". MSGID is the entry's kind. The
// structured data element (SD-ID from Options, "dstt@32473" by default:
// 32473 is the documentation enterprise number of RFC 5612; use your own)
// holds every field; PARAM-VALUEs escape '"', '\' and ']' with a
// backslash, and invalid UTF-8 becomes U+FFFD. MSG is the entry's message
// as MSG-UTF8 (RFC 5424 6.4): the UTF-8 BOM, then the message in UTF-8
// (invalid bytes become U+FFFD) on one line: "\" is written "\\" and CR,
// LF as \r, \n.
type syslogFormatter struct{ o Options }

// utf8BOM starts an RFC 5424 MSG that is UTF-8 (MSG-UTF8, section 6.4).
const utf8BOM = "\xEF\xBB\xBF"

func (syslogFormatter) Name() string { return RFC5424 }

func syslogSeverity(e *audit.Entry) int {
	switch s := Severity(e); {
	case s >= 9:
		return 2
	case s >= 7:
		return 4
	case s >= 4:
		return 5
	}
	return 6
}

// appendHeader writes everything up to and including MSGID and a space.
func appendSyslogHeader(dst []byte, o Options, e *audit.Entry) []byte {
	dst = append(dst, '<')
	dst = strconv.AppendInt(dst, int64(o.Facility*8+syslogSeverity(e)), 10)
	dst = append(dst, ">1 "...)
	dst = entryTime(e).AppendFormat(dst, syslogTime)
	dst = append(dst, ' ')
	dst = appendHeaderField(dst, o.Hostname, 255)
	dst = append(dst, ' ')
	dst = appendHeaderField(dst, o.AppName, 48)
	dst = append(dst, ' ')
	dst = appendHeaderField(dst, o.ProcID, 128)
	dst = append(dst, ' ')
	dst = appendHeaderField(dst, string(e.Kind), 32)
	return append(dst, ' ')
}

func appendHeaderField(dst []byte, s string, maxLen int) []byte {
	if s == "" {
		return append(dst, '-')
	}
	if len(s) > maxLen {
		s = s[:maxLen]
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 {
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

func (f syslogFormatter) Append(dst []byte, e *audit.Entry) []byte {
	dst = appendSyslogHeader(dst, f.o, e)
	dst = append(dst, '[')
	dst = append(dst, f.o.SDID...)
	p := func(name, v string) {
		if v == "" {
			return
		}
		dst = append(dst, ' ')
		dst = append(dst, name...)
		dst = append(dst, '=', '"')
		dst = appendSDValue(dst, v)
		dst = append(dst, '"')
	}
	p("seq", strconv.FormatUint(e.Seq, 10))
	p("height", strconv.FormatUint(e.Height, 10))
	p("txIndex", strconv.FormatUint(uint64(e.TxIndex), 10))
	p("time", blockTime(e).Format("2006-01-02T15:04:05.000000000Z")) // the full nanoseconds the hash covers
	p("timeSource", timeSource(e))
	p("kind", string(e.Kind))
	p("actor", e.Actor)
	p("endpoint", e.Endpoint)
	p("action", e.Action)
	p("resources", resourcesJSON(e.Resources))
	p("code", strconv.FormatUint(uint64(e.Code), 10))
	p("codeName", e.CodeName)
	p("outcome", outcome(e))
	p("txHash", hexOf(e.TxHash))
	p("prevHash", hexOf(e.PrevHash))
	p("hash", hexOf(e.Hash))
	p("chain", f.o.Chain)
	p("chainId", f.o.ChainID)
	dst = append(dst, ']')
	if e.Message != "" {
		dst = append(dst, ' ')
		dst = append(dst, utf8BOM...)
		dst = appendMsg(dst, e.Message)
	}
	return dst
}

func appendSDValue(dst []byte, s string) []byte {
	for _, r := range s { // invalid UTF-8 yields RuneError, written as U+FFFD
		switch r {
		case '"', '\\', ']':
			dst = append(dst, '\\', byte(r))
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// appendMsg writes MSG on one line, reversibly: "\" becomes "\\", CR and
// LF become \r and \n, so that line-framed receivers (and a receiver's
// file output) see one record.
func appendMsg(dst []byte, s string) []byte {
	for _, r := range s {
		switch r {
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		default:
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst
}

// checkSDName checks an SD-NAME: 1-32 printable US-ASCII characters except
// '=', ' ', ']' and '"'.
func checkSDName(s string) error {
	if len(s) == 0 || len(s) > 32 {
		return errors.New("must be 1-32 characters")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 33 || c > 126 || c == '=' || c == ']' || c == '"' {
			return errors.New("printable US-ASCII only, without = ] \" and spaces")
		}
	}
	return nil
}

// Syslog wraps inner's records in an RFC 5424 header with no structured
// data ("-"), for sending CEF, LEEF or JSON over syslog:
//
//	<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - BOM RECORD
//
// The record is MSG-UTF8, after the UTF-8 BOM (RFC 5424 6.4), when it is
// valid UTF-8, and MSG-ANY without a BOM when an entry's bytes are not.
//
// Syslog of an rfc5424 formatter is that formatter.
func Syslog(inner Formatter, opts Options) Formatter {
	if inner.Name() == RFC5424 {
		return inner
	}
	return syslogWrapped{o: opts.withDefaults(), inner: inner}
}

type syslogWrapped struct {
	o     Options
	inner Formatter
}

func (w syslogWrapped) Name() string { return RFC5424 + "+" + w.inner.Name() }

func (w syslogWrapped) Append(dst []byte, e *audit.Entry) []byte {
	dst = appendSyslogHeader(dst, w.o, e)
	dst = append(dst, '-', ' ')
	start := len(dst)
	dst = w.inner.Append(dst, e)
	if !utf8.Valid(dst[start:]) {
		return dst // MSG-ANY: the record carries bytes that are not UTF-8
	}
	n := len(dst) // MSG-UTF8: move the record up and put the BOM first
	dst = append(dst, utf8BOM...)
	copy(dst[start+len(utf8BOM):], dst[start:n])
	copy(dst[start:], utf8BOM)
	return dst
}
