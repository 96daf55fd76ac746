package keyring

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"os"
)

// PassphraseEnv is the environment variable EnvOrPromptPassphrase reads by
// default.
const PassphraseEnv = "DSTT_KEYRING_PASSPHRASE"

// ErrPassphraseMismatch is returned when the confirmation differs.
var ErrPassphraseMismatch = errors.New("keyring: passphrases do not match")

// maxPassphrase bounds one line of passphrase input.
const maxPassphrase = 1024

// EnvOrPromptPassphrase returns a PassphraseFunc that takes the passphrase
// from the environment variable env (PassphraseEnv if env is "") when it is
// set and non-empty, and otherwise prompts on out and reads one line from
// in, asking twice when confirm is true.
//
// When in is a terminal on Linux, macOS or the BSDs, echo is turned off
// while reading. Elsewhere, or when in is not a terminal (a pipe), the line
// is read as is.
func EnvOrPromptPassphrase(env string, in *os.File, out io.Writer) PassphraseFunc {
	if env == "" {
		env = PassphraseEnv
	}
	return func(confirm bool) ([]byte, error) {
		if v := os.Getenv(env); v != "" {
			return []byte(v), nil
		}
		if in == nil {
			return nil, fmt.Errorf("keyring: no passphrase: set $%s or run on a terminal", env)
		}
		if out == nil {
			out = io.Discard
		}
		pass, err := prompt(in, out, "Enter keyring passphrase: ")
		if err != nil || !confirm {
			return pass, err
		}
		again, err := prompt(in, out, "Repeat keyring passphrase: ")
		defer clear(again)
		if err != nil {
			clear(pass)
			return nil, err
		}
		if subtle.ConstantTimeCompare(pass, again) != 1 {
			clear(pass)
			return nil, ErrPassphraseMismatch
		}
		return pass, nil
	}
}

func prompt(in *os.File, out io.Writer, text string) ([]byte, error) {
	fmt.Fprint(out, text)
	line, hidden, err := readHidden(in)
	if hidden {
		fmt.Fprintln(out) // the user's Enter was not echoed
	}
	return line, err
}

// readLine reads up to a newline one byte at a time, so nothing after the
// line is consumed (the confirmation may follow on the same pipe). A final
// line without a newline is accepted; a trailing '\r' is dropped.
func readLine(r io.Reader) ([]byte, error) {
	var line []byte
	var b [1]byte
	for {
		n, err := r.Read(b[:])
		if n == 1 {
			if b[0] == '\n' {
				break
			}
			if len(line) == maxPassphrase {
				clear(line)
				return nil, fmt.Errorf("keyring: passphrase longer than %d bytes", maxPassphrase)
			}
			line = append(line, b[0])
			continue
		}
		if err == io.EOF && len(line) > 0 {
			break
		}
		if err == io.EOF {
			return nil, fmt.Errorf("keyring: read passphrase: %w", io.ErrUnexpectedEOF)
		}
		if err != nil {
			clear(line)
			return nil, fmt.Errorf("keyring: read passphrase: %w", err)
		}
	}
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}
