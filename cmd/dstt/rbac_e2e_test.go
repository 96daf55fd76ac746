package main

import (
	"strings"
	"testing"
)

// TestRBACEndToEnd: a real node; the dev key is the genesis admin. Writes
// and reads are enforced, policy changes go through signed txs, and the
// policy survives a restart.
func TestRBACEndToEnd(t *testing.T) {
	n := newDevNode(t)
	n.start()
	addr := func(name string) string {
		k, code := n.cliJSON("", "keys", "add", name, "--keyring-backend", "test")
		if code != 0 {
			t.Fatalf("keys add %s: %v", name, k)
		}
		return k["address"].(string)
	}
	alice, _ := addr("alice"), addr("bob")
	as := func(who string, args ...string) (map[string]any, int) {
		return n.cliJSON("", append(args, "--from", who)...)
	}

	// Nothing is allowed before the admin says so.
	res, code := as("alice", "tx", "put", "bank1/payments/1", "100")
	if code != 1 || res["code_name"] != "UNAUTHORIZED" || !strings.Contains(res["log"].(string), "lacks write") {
		t.Fatalf("write before grant: exit %d %v", code, res)
	}
	// A non-admin cannot grant itself.
	if res, code := as("alice", "rbac", "grant", "teller", "--to", alice, "--domain", "bank1"); code != 1 || res["code_name"] != "UNAUTHORIZED" {
		t.Fatalf("self-grant: exit %d %v", code, res)
	}
	for _, args := range [][]string{
		{"rbac", "allow", "teller", "write", "bank1/payments/*"},
		{"rbac", "allow", "teller", "read", "bank1/payments/*"},
		{"rbac", "deny", "teller", "write", "bank1/payments/frozen"},
		{"rbac", "grant", "teller", "--to", alice, "--domain", "bank1"},
	} {
		if res, code := as("dev", args...); code != 0 {
			t.Fatalf("%v: exit %d %v", args, code, res)
		}
	}
	if res, code := as("alice", "tx", "put", "bank1/payments/1", "100"); code != 0 {
		t.Fatalf("allowed write: exit %d %v", code, res)
	}
	for _, key := range []string{"bank1/payments/frozen", "bank2/payments/1"} {
		if res, code := as("alice", "tx", "put", key, "1"); code != 1 || res["code_name"] != "UNAUTHORIZED" {
			t.Fatalf("write %s: exit %d %v", key, code, res)
		}
	}

	// Reads: unsigned and unauthorised readers get a clear error and no data.
	out, errs, code := n.cli("", "query", "get", "bank1/payments/1", "--from", "-", "-o", "json")
	if code != 1 || out != "" || !strings.Contains(errs, "needs a signed query") {
		t.Fatalf("unsigned read: exit %d out %q err %q", code, out, errs)
	}
	out, errs, code = n.cli("", "query", "get", "bank1/payments/1", "--from", "bob", "-o", "json")
	if code != 1 || out != "" || !strings.Contains(errs, "lacks read") {
		t.Fatalf("unauthorised read: exit %d out %q err %q", code, out, errs)
	}
	if kv, code := as("alice", "query", "get", "bank1/payments/1"); code != 0 || kv["value"] != "100" {
		t.Fatalf("authorised read: exit %d %v", code, kv)
	}
	chk, code := as("dev", "rbac", "check", alice, "write", "bank1/payments/frozen")
	if code != 0 || chk["allowed"] != false || !strings.Contains(chk["reason"].(string), "deny") {
		t.Fatalf("rbac check: %v", chk)
	}

	// The policy is state: it survives a restart.
	n.stop()
	n.start()
	if res, code := as("alice", "tx", "put", "bank1/payments/2", "200"); code != 0 {
		t.Fatalf("write after restart: exit %d %v", code, res)
	}
	if res, code := as("alice", "tx", "put", "bank1/payments/frozen", "1"); code != 1 || res["code_name"] != "UNAUTHORIZED" {
		t.Fatalf("deny after restart: exit %d %v", code, res)
	}
	list, _, code := n.cli("", "rbac", "list")
	if code != 0 || !strings.Contains(list, "p, teller, bank1, bank1/payments/frozen, write, deny") || !strings.Contains(list, "g, "+alice+", teller, bank1") {
		t.Fatalf("rbac list after restart: %q", list)
	}
	n.stop()
}
