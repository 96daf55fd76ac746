package audit

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// entryJSON is the native JSON form of an entry: every field, hashes in
// lower-case hex, time in RFC 3339 with nanoseconds. It round-trips, so an
// export in this form can be verified (see format "json").
type entryJSON struct {
	Seq       uint64   `json:"seq"`
	Height    uint64   `json:"height"`
	TxIndex   uint32   `json:"tx_index"`
	Time      string   `json:"time"`
	Kind      Kind     `json:"kind"`
	Actor     string   `json:"actor,omitempty"`
	Action    string   `json:"action,omitempty"`
	Resources []string `json:"resources,omitempty"`
	Code      uint32   `json:"code"`
	CodeName  string   `json:"code_name,omitempty"`
	Message   string   `json:"message,omitempty"`
	TxHash    string   `json:"tx_hash,omitempty"`
	PrevHash  string   `json:"prev_hash,omitempty"`
	Hash      string   `json:"hash"`
}

// MarshalJSON writes the native JSON form.
func (e Entry) MarshalJSON() ([]byte, error) {
	j := entryJSON{
		Seq: e.Seq, Height: e.Height, TxIndex: e.TxIndex, Kind: e.Kind, Actor: e.Actor,
		Action: e.Action, Resources: e.Resources, Code: e.Code, CodeName: e.CodeName,
		Message: e.Message, TxHash: hex.EncodeToString(e.TxHash),
		PrevHash: hex.EncodeToString(e.PrevHash), Hash: hex.EncodeToString(e.Hash),
	}
	if !e.Time.IsZero() {
		j.Time = e.Time.UTC().Format(time.RFC3339Nano)
	}
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
func (e *Entry) UnmarshalJSON(b []byte) error {
	var j entryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	var out Entry
	out.Seq, out.Height, out.TxIndex, out.Kind = j.Seq, j.Height, j.TxIndex, j.Kind
	out.Actor, out.Action, out.Resources = j.Actor, j.Action, j.Resources
	out.Code, out.CodeName, out.Message = j.Code, j.CodeName, j.Message
	if j.Time != "" {
		t, err := time.Parse(time.RFC3339Nano, j.Time)
		if err != nil {
			return fmt.Errorf("audit: entry time: %w", err)
		}
		out.Time = t.UTC()
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
