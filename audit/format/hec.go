package format

import (
	"encoding/json"
	"strconv"

	"github.com/dstt/dstt/audit"
)

// hecFormatter writes a Splunk HTTP Event Collector event for the
// /services/collector/event endpoint:
//
//	{"time": SECONDS.MICROS, "host": ..., "source": ..., "sourcetype": ...,
//	 "index": ..., "event": {native JSON of the entry},
//	 "fields": {"chain": ..., "kind": ..., "seq": ..., "code_name": ...}}
//
// time is a JSON number written from integers (no floats). "fields" are
// indexed fields (strings only, as HEC requires). Several events are sent
// concatenated in one request body.
type hecFormatter struct{ o Options }

func (hecFormatter) Name() string { return HEC }

type hecEvent struct {
	Time       json.Number `json:"time"`
	Host       string      `json:"host,omitempty"`
	Source     string      `json:"source"`
	SourceType string      `json:"sourcetype"`
	Index      string      `json:"index,omitempty"`
	Event      audit.Entry `json:"event"`
	Fields     hecFields   `json:"fields"`
}

type hecFields struct {
	Chain    string `json:"chain"`
	ChainID  string `json:"chain_id,omitempty"`
	Kind     string `json:"kind"`
	Seq      string `json:"seq"`
	CodeName string `json:"code_name,omitempty"`
	Outcome  string `json:"outcome"`
}

func (f hecFormatter) Append(dst []byte, e *audit.Entry) []byte {
	t := entryTime(e)
	ts := strconv.FormatInt(t.Unix(), 10) + "." + strconv.FormatInt(int64(t.Nanosecond()/1000)+1_000_000, 10)[1:]
	return appendJSON(dst, hecEvent{
		Time: json.Number(ts), Host: f.o.Hostname, Source: f.o.HECSource, SourceType: f.o.HECSourceType,
		Index: f.o.HECIndex, Event: *e,
		Fields: hecFields{Chain: f.o.Chain, ChainID: f.o.ChainID, Kind: string(e.Kind),
			Seq: strconv.FormatUint(e.Seq, 10), CodeName: e.CodeName, Outcome: outcome(e)},
	})
}
