package keyring

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"testing"
)

func encodings(b []byte) [][]byte {
	return [][]byte{
		b,
		[]byte(hex.EncodeToString(b)),
		[]byte(base64.StdEncoding.EncodeToString(b)),
		[]byte(base64.RawStdEncoding.EncodeToString(b)),
		[]byte(base64.URLEncoding.EncodeToString(b)),
	}
}

func jsonIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }

// pipeWith returns the read end of a pipe holding input.
func pipeWith(t *testing.T, input string) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if _, err := io.WriteString(w, input); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return r
}

func TestEnvOrPromptPassphrase(t *testing.T) {
	t.Setenv(PassphraseEnv, "")

	var out bytes.Buffer
	pf := EnvOrPromptPassphrase("", pipeWith(t, "s3cret\r\ns3cret\n"), &out)
	got, err := pf(true)
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("confirmed prompt: %q, %v", got, err)
	}
	if !bytes.Contains(out.Bytes(), []byte("Repeat")) || bytes.Contains(out.Bytes(), []byte("s3cret")) {
		t.Fatalf("prompt output %q", out.String())
	}

	pf = EnvOrPromptPassphrase("", pipeWith(t, "one\ntwo\n"), io.Discard)
	if _, err := pf(true); !errors.Is(err, ErrPassphraseMismatch) {
		t.Fatalf("mismatch: %v", err)
	}

	pf = EnvOrPromptPassphrase("", pipeWith(t, "only\n"), nil)
	if got, err := pf(false); err != nil || string(got) != "only" {
		t.Fatalf("single prompt: %q, %v", got, err)
	}
	if _, err := pf(false); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("EOF: %v", err)
	}

	pf = EnvOrPromptPassphrase("", pipeWith(t, "no newline"), nil)
	if got, err := pf(false); err != nil || string(got) != "no newline" {
		t.Fatalf("last line: %q, %v", got, err)
	}

	t.Setenv(PassphraseEnv, "from-env")
	pf = EnvOrPromptPassphrase("", nil, nil)
	if got, err := pf(true); err != nil || string(got) != "from-env" {
		t.Fatalf("env: %q, %v", got, err)
	}
	t.Setenv("OTHER_PASS", "other")
	if got, _ := EnvOrPromptPassphrase("OTHER_PASS", nil, nil)(false); string(got) != "other" {
		t.Fatalf("custom env: %q", got)
	}
	t.Setenv(PassphraseEnv, "")
	if _, err := EnvOrPromptPassphrase("", nil, nil)(false); err == nil {
		t.Fatal("no env and no input: no error")
	}
}
