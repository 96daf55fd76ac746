package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// entryJSON is the native JSON form of an entry: every field, hashes in
// lower-case hex, times in RFC 3339 with nanoseconds. It round-trips, so an
// export in this form can be verified (see format "json"). commit_time and
// time_source are outside the entry hash (see Entry.CommitTime, EventTime).
type entryJSON struct {
	Seq        uint64     `json:"seq"`
	Height     uint64     `json:"height"`
	TxIndex    uint32     `json:"tx_index"`
	Time       string     `json:"time"`
	CommitTime string     `json:"commit_time,omitempty"`
	TimeSource TimeSource `json:"time_source,omitempty"`
	Kind       Kind       `json:"kind"`
	Actor      string     `json:"actor,omitempty"`
	Endpoint   string     `json:"endpoint,omitempty"`
	Action     string     `json:"action,omitempty"`
	Resources  []string   `json:"resources,omitempty"`
	Code       uint32     `json:"code"`
	CodeName   string     `json:"code_name,omitempty"`
	Message    string     `json:"message,omitempty"`
	TxHash     string     `json:"tx_hash,omitempty"`
	PrevHash   string     `json:"prev_hash,omitempty"`
	Hash       string     `json:"hash"`
}

// MarshalJSON writes the native JSON form.
func (e Entry) MarshalJSON() ([]byte, error) {
	j := entryJSON{
		Seq: e.Seq, Height: e.Height, TxIndex: e.TxIndex, Kind: e.Kind, Actor: e.Actor,
		Endpoint: e.Endpoint, Action: e.Action, Resources: e.Resources, Code: e.Code, CodeName: e.CodeName,
		Message: e.Message, TxHash: hex.EncodeToString(e.TxHash),
		PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash),
	}
	if !e.Time.IsZero() {
		j.Time = e.Time.UTC().Format(time.RFC3339Nano)
	}
	if !e.CommitTime.IsZero() {
		j.CommitTime = e.CommitTime.UTC().Format(time.RFC3339Nano)
	}
	_, j.TimeSource = e.EventTime()
	// No HTML escaping: keys and messages keep their "<", ">" and "&", so
	// a SIEM's literal search finds them.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// UnmarshalJSON reads the native JSON form. Strings that are not valid
// UTF-8 do not survive JSON, so such entries fail verification afterwards.
// Unknown fields are ignored here; DecodeJSON refuses them.
func (e *Entry) UnmarshalJSON(b []byte) error {
	var j entryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	return j.entry(e)
}

// ErrJSON is returned by DecodeJSON for a record that is not exactly one
// native JSON entry.
var ErrJSON = errors.New("audit: not a native JSON entry")

// DecodeJSON strictly reads one native JSON entry: a field the form does
// not define, a second JSON value after the first, or a time_source that
// contradicts the times is refused with ErrJSON. Exports are checked this
// way, so nothing can ride along unverified.
func DecodeJSON(b []byte) (Entry, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var j entryJSON
	if err := d.Decode(&j); err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrJSON, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return Entry{}, fmt.Errorf("%w: data after the entry", ErrJSON)
	}
	var e Entry
	if err := j.entry(&e); err != nil {
		return Entry{}, fmt.Errorf("%w: %v", ErrJSON, err)
	}
	if _, src := e.EventTime(); j.TimeSource != "" && j.TimeSource != src {
		return Entry{}, fmt.Errorf("%w: time_source %q, but the times given make it %q", ErrJSON, j.TimeSource, src)
	}
	return e, nil
}

func (j *entryJSON) entry(e *Entry) error {
	var out Entry
	out.Seq, out.Height, out.TxIndex, out.Kind = j.Seq, j.Height, j.TxIndex, j.Kind
	out.Actor, out.Endpoint, out.Action, out.Resources = j.Actor, j.Endpoint, j.Action, j.Resources
	if len(out.Resources) == 0 { // [] and absent encode alike
		out.Resources = nil
	}
	out.Code, out.CodeName, out.Message = j.Code, j.CodeName, j.Message
	for _, f := range []struct {
		name string
		text string
		dst  *time.Time
	}{{"time", j.Time, &out.Time}, {"commit_time", j.CommitTime, &out.CommitTime}} {
		if f.text == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, f.text)
		if err != nil {
			return fmt.Errorf("audit: entry %s: %w", f.name, err)
		}
		*f.dst = t.UTC()
	}
	for _, f := range []struct {
		name string
		text string
		dst  *[]byte
	}{{"tx_hash", j.TxHash, &out.TxHash}, {"prev_hash", j.PrevHash, &out.PrevHash}, {"hash", j.Hash, &out.Hash}} {
		if f.text == "" {
			continue
		}
		v, err := hex.DecodeString(strings.ToLower(f.text))
		if err != nil {
			return fmt.Errorf("audit: entry %s: %w", f.name, err)
		}
		*f.dst = v
	}
	*e = out
	return nil
}
