package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/audit"
	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/security/keyring"
	"github.com/dstt/dstt/security/vault"
	"github.com/dstt/dstt/transport/api"
	"github.com/dstt/dstt/transport/client"
)

// Stable error codes of the CLI (the "code" of an -o json error). A tx
// refused or failed by the chain has its result code's name (CONFLICT,
// UNAUTHORIZED, ...), an error the REST gateway answered its problem code
// (RATE_LIMITED, FORBIDDEN, ...); the rest are these. docs/API.md lists
// them.
const (
	errCodeUsage          = "USAGE"          // unknown command, wrong arguments or flags
	errCodeUnreachable    = "UNREACHABLE"    // the node did not answer
	errCodeTLS            = "TLS"            // the TLS handshake with the node failed
	errCodeUnauthorized   = "UNAUTHORIZED"   // the node refused the read
	errCodeNotFound       = "NOT_FOUND"      // no such key, tx or identity
	errCodeBusy           = "BUSY"           // node busy or not ready; retry
	errCodeCommitTimeout  = "COMMIT_TIMEOUT" // admitted, not committed within --timeout
	errCodeUnsupported    = "UNSUPPORTED"    // not served over this transport
	errCodeQuery          = "QUERY_FAILED"   // any other refused or undecodable answer
	errCodeKeyNotFound    = "KEY_NOT_FOUND"  // no such key in the keyring
	errCodeKeyExists      = "KEY_EXISTS"     // a key of that name exists
	errCodeBadPassphrase  = "BAD_PASSPHRASE" // the keyring passphrase is wrong
	errCodeVaultSealed    = "VAULT_SEALED"   // Vault is sealed
	errCodeVaultDenied    = "VAULT_DENIED"   // Vault's policy refused
	errCodeVaultDown      = "VAULT_UNREACHABLE"
	errCodeNotMember      = "NOT_A_MEMBER"       // gov sign by a key that administers no member org
	errCodePublicRPC      = "PUBLIC_RPC"         // exit 3
	errCodeNodeLogDamaged = "NODE_LOG_TRUNCATED" // exit 4
	errCodeAuditMismatch  = "AUDIT_MISMATCH"     // exit 5
	errCodeUnanchored     = "AUDIT_UNANCHORED"   // exit 2
	errCodeOther          = "ERROR"              // anything else
)

// usageError marks a wrong command line.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// errNotMember: gov sign refuses a key that administers no member org.
var errNotMember = errors.New("not an admin of a member org")

// errorCode is the stable code of err: its first match in this order.
func errorCode(err error) string {
	var txErr *client.TxError
	if errors.As(err, &txErr) {
		return txErr.Code.Name()
	}
	var prob *api.Problem
	if errors.As(err, &prob) && prob.Code != "" {
		return prob.Code
	}
	var ue usageError
	if errors.As(err, &ue) {
		return errCodeUsage
	}
	for _, m := range errorCodes {
		if errors.Is(err, m.err) {
			return m.code
		}
	}
	return errCodeOther
}

var errorCodes = []struct {
	err  error
	code string
}{
	{client.ErrTLS, errCodeTLS}, // before ErrUnreachable, which it wraps
	{client.ErrUnreachable, errCodeUnreachable},
	{client.ErrUnauthorized, errCodeUnauthorized},
	{client.ErrNotFound, errCodeNotFound},
	{client.ErrBusy, errCodeBusy},
	{client.ErrCommitTimeout, errCodeCommitTimeout},
	{client.ErrUnsupported, errCodeUnsupported},
	{client.ErrQuery, errCodeQuery},
	{keyring.ErrKeyNotFound, errCodeKeyNotFound},
	{keyring.ErrKeyExists, errCodeKeyExists},
	{keyring.ErrBadPassphrase, errCodeBadPassphrase},
	{vault.ErrSealed, errCodeVaultSealed},
	{vault.ErrDenied, errCodeVaultDenied},
	{vault.ErrUnreachable, errCodeVaultDown},
	{errNotMember, errCodeNotMember},
	{consensus.ErrPublicRPC, errCodePublicRPC},
	{audit.ErrNodeLogTruncated, errCodeNodeLogDamaged},
	{audit.ErrStoreMismatch, errCodeAuditMismatch},
	{audit.ErrUnanchored, errCodeUnanchored},
}

// cliError is what -o json prints on stderr for a failed command.
type cliError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// renderError is the one place a failed command's error is printed: a
// JSON object on stderr with -o json, else "Error: ..." (and the usage hint
// for a wrong command line).
func renderError(w io.Writer, asJSON bool, cmd *cobra.Command, err error) {
	if asJSON {
		var out cliError
		out.Error.Code, out.Error.Message = errorCode(err), err.Error()
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	fmt.Fprintln(w, "Error:", err)
	if errorCode(err) == errCodeUsage && cmd != nil {
		fmt.Fprintf(w, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
}

// failUnknownSubcommands makes every command that only groups others
// refuse an unknown subcommand (cobra would print the help and exit 0), and
// marks argument errors as usage errors.
func failUnknownSubcommands(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		failUnknownSubcommands(c)
	}
	if args := cmd.Args; args != nil {
		cmd.Args = func(c *cobra.Command, a []string) error {
			if err := args(c, a); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	if cmd.Runnable() || !cmd.HasSubCommands() {
		return
	}
	cmd.Args = cobra.ArbitraryArgs
	cmd.RunE = func(c *cobra.Command, a []string) error {
		if len(a) == 0 {
			return c.Help()
		}
		var names []string
		for _, sub := range c.Commands() {
			if sub.IsAvailableCommand() {
				names = append(names, sub.Name())
			}
		}
		return usageErr("unknown command %q for %q (known: %s)", a[0], c.CommandPath(), strings.Join(names, ", "))
	}
}
