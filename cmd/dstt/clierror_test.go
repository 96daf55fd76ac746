package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/client"
	"github.com/dstt/dstt/types"
)

// runCLI runs the CLI in-process on a fresh home; it returns stdout,
// stderr and the exit status.
func runCLI(t *testing.T, home string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(append([]string{"--home", home}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// Every command that groups others refuses an unknown subcommand with a
// non-zero exit (cobra printed the help and exited 0: "keys import" did).
func TestUnknownSubcommandsFail(t *testing.T) {
	home := t.TempDir()
	root, _ := newRootCmd(&bytes.Buffer{}, &bytes.Buffer{})
	var groups [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		if c.HasSubCommands() {
			groups = append(groups, path)
		}
		for _, sub := range c.Commands() {
			walk(sub, append(append([]string(nil), path...), sub.Name()))
		}
	}
	walk(root, nil)
	if len(groups) < 8 {
		t.Fatalf("found %d command groups", len(groups))
	}
	for _, g := range groups {
		args := append(append([]string(nil), g...), "no-such-command")
		out, errs, code := runCLI(t, home, args...)
		if code == 0 || !strings.Contains(errs, `unknown command "no-such-command"`) || out != "" {
			t.Errorf("dstt %s: exit %d, stdout %q, stderr %q", strings.Join(args, " "), code, out, errs)
		}
	}
	// With -o json the error is a JSON object on stderr.
	_, errs, code := runCLI(t, home, "keys", "frobnicate", "-o", "json")
	var e cliError
	if code != exitFailure || json.Unmarshal([]byte(errs), &e) != nil || e.Error.Code != errCodeUsage || !strings.Contains(e.Error.Message, "frobnicate") {
		t.Fatalf("-o json unknown command: exit %d, stderr %q", code, errs)
	}
	// Missing arguments and bad flags are usage errors too.
	for _, args := range [][]string{{"keys", "import"}, {"keys", "show"}, {"query", "get", "--height", "x"}, {"query", "get", "k", "--transport", "carrier-pigeon"}} {
		_, errs, code := runCLI(t, home, append(args, "-o", "json")...)
		if code != exitFailure || json.Unmarshal([]byte(errs), &e) != nil || e.Error.Code != errCodeUsage {
			t.Errorf("dstt %v: exit %d, stderr %q", args, code, errs)
		}
	}
}

func TestErrorCodes(t *testing.T) {
	prob := api.NewProblem(api.ProblemRateLimited, "slow down")
	for _, c := range []struct {
		err  error
		want string
	}{
		{&client.TxError{Code: types.CodeConflict}, "CONFLICT"},
		{fmt.Errorf("x: %w", &client.TxError{Code: types.CodeUnauthorized}), "UNAUTHORIZED"},
		{fmt.Errorf("%w: %w", client.ErrBusy, prob), api.ProblemRateLimited},
		{client.Unreachable("http://x", errors.New("connection refused")), errCodeUnreachable},
		{fmt.Errorf("%w: bad cert", client.ErrTLS), errCodeTLS},
		{fmt.Errorf("w: %w", keyring.ErrKeyNotFound), errCodeKeyNotFound},
		{usageErr("bad"), errCodeUsage},
		{fmt.Errorf("gov: %w", errNotMember), errCodeNotMember},
		{errors.New("anything"), errCodeOther},
	} {
		if got := errorCode(c.err); got != c.want {
			t.Errorf("errorCode(%v) = %s, want %s", c.err, got, c.want)
		}
	}
}

// keys import stores a given key, keys delete needs --yes; with -o json a
// failure is a JSON error on stderr.
func TestKeysImportDelete(t *testing.T) {
	home := t.TempDir()
	seed := strings.Repeat("0123456789abcdef", 4)
	file := home + "/seed.hex"
	if err := writeString(file, seed+"\n"); err != nil {
		t.Fatal(err)
	}
	kb := []string{"--keyring-backend", "test", "-o", "json"}
	out, errs, code := runCLI(t, home, append([]string{"keys", "import", "carol", file}, kb...)...)
	var k keyJSON
	if code != 0 || json.Unmarshal([]byte(out), &k) != nil || k.Name != "carol" || k.Address != k.KeyAddress || len(k.Address) != 40 {
		t.Fatalf("import: exit %d %q %q", code, out, errs)
	}
	_, errs, code = runCLI(t, home, append([]string{"keys", "import", "carol", file}, kb...)...)
	if code == 0 || !strings.Contains(errs, `"code":"KEY_EXISTS"`) {
		t.Fatalf("import over an existing key: exit %d %q", code, errs)
	}
	if _, errs, code = runCLI(t, home, append([]string{"keys", "delete", "carol"}, kb...)...); code == 0 || !strings.Contains(errs, `"code":"USAGE"`) {
		t.Fatalf("delete without --yes: exit %d %q", code, errs)
	}
	if _, errs, code = runCLI(t, home, append([]string{"keys", "delete", "carol", "--yes"}, kb...)...); code != 0 {
		t.Fatalf("delete: exit %d %q", code, errs)
	}
	if _, errs, code = runCLI(t, home, append([]string{"keys", "show", "carol"}, kb...)...); code == 0 || !strings.Contains(errs, `"code":"KEY_NOT_FOUND"`) {
		t.Fatalf("show after delete: exit %d %q", code, errs)
	}
}

// keys import refuses what is no key, or no secret, and never repeats the
// input: a seed of one repeated byte, a 64-byte key whose public half is
// not its seed's, more than a key's worth of input; nothing is stored.
func TestKeysImportRefusesOddInput(t *testing.T) {
	seed := strings.Repeat("0123456789abcdef", 4)
	other := strings.Repeat("fedcba9876543210", 4) // not the seed's public key
	for name, in := range map[string]string{
		"zero seed":    strings.Repeat("00", 32),
		"one byte":     strings.Repeat("a7", 32),
		"mismatched":   seed + other,
		"zero key":     strings.Repeat("00", 64),
		"huge":         seed + strings.Repeat(" ", 8<<10),
		"not hex":      seed[:63] + "g",
		"another size": seed + "00",
	} {
		home := t.TempDir()
		file := home + "/in.hex"
		if err := writeString(file, in); err != nil {
			t.Fatal(err)
		}
		_, errs, code := runCLI(t, home, "keys", "import", "k", file, "--keyring-backend", "test")
		if code == 0 {
			t.Errorf("%s: imported", name)
			continue
		}
		if strings.Contains(errs, seed[:16]) || strings.Contains(errs, other[:16]) || strings.Contains(errs, in[:16]) {
			t.Errorf("%s: the error repeats the input: %q", name, errs)
		}
		if out, errs, code := runCLI(t, home, "keys", "list", "--keyring-backend", "test", "-o", "json"); code != 0 || strings.Contains(out, `"k"`) {
			t.Errorf("%s: after the refused import: exit %d %q %q", name, code, out, errs)
		}
	}
}

// TLS files are for an https:// gateway; naming them with an http:// node
// is a usage error, not a silent plain-text connection.
func TestTLSFlagsNeedHTTPS(t *testing.T) {
	home := t.TempDir()
	_, errs, code := runCLI(t, home, "query", "get", "k", "--from", "-", "--node", "http://127.0.0.1:1", "--ca", "/nonexistent.pem", "-o", "json")
	if code == 0 || !strings.Contains(errs, `"code":"USAGE"`) || !strings.Contains(errs, "https://") {
		t.Fatalf("exit %d %q", code, errs)
	}
}

// HOME/keyring/identities.json only remembers which identity a key acts
// for; one edited to name something that is no address (a role, anyone,
// a policy wildcard) is refused, not printed as the key's address for an
// admin to grant rights to.
func TestTamperedIdentitiesRefused(t *testing.T) {
	home := t.TempDir()
	kb := []string{"--keyring-backend", "test", "-o", "json"}
	out, errs, code := runCLI(t, home, append([]string{"keys", "add", "teller"}, kb...)...)
	var k keyJSON
	if code != 0 || json.Unmarshal([]byte(out), &k) != nil {
		t.Fatalf("add: exit %d %q %q", code, out, errs)
	}
	for _, bad := range []string{`{"` + k.KeyAddress + `": "anyone"}`, `{"` + k.KeyAddress + `": "*"}`, `{"admin": "` + k.KeyAddress + `"}`,
		`{"` + k.KeyAddress + `": "` + strings.ToUpper(k.KeyAddress) + `"}`} {
		if err := writeString(identitiesPath(home), bad); err != nil {
			t.Fatal(err)
		}
		out, errs, code := runCLI(t, home, append([]string{"keys", "show", "teller"}, kb...)...)
		if code == 0 || strings.Contains(out, "anyone") || !strings.Contains(errs, "identities.json") {
			t.Errorf("%s: exit %d %q %q", bad, code, out, errs)
		}
	}
}
