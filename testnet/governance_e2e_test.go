package testnet_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"
)

// valAddress is the CometBFT validator address (upper-case hex) of a hex ed25519 key.
func valAddress(tb testing.TB, pubHex string) string {
	tb.Helper()
	pub, err := hex.DecodeString(pubHex)
	if err != nil || len(pub) != ed25519.PubKeySize {
		tb.Fatalf("validator key %q: %v", pubHex, err)
	}
	return ed25519.PubKey(pub).Address().String()
}

// gov runs `dstt --home HOME gov ARGS... -o json` and decodes the output.
func (c *cluster) gov(tb testing.TB, home string, args ...string) (map[string]any, int) {
	tb.Helper()
	out, errs, code := c.cli(tb, append(append([]string{"--home", home, "gov"}, args...), "-o", "json")...)
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil && code == 0 {
		tb.Fatalf("dstt gov %v: output is not JSON (%v): %q, stderr %q", args, err, out, errs)
	}
	if v == nil {
		v = map[string]any{"stderr": errs}
	}
	return v, code
}

// proposal writes a proposal with node1's CLI, has the named nodes' "dev" keys (their
// orgs' admins) sign it, and returns its file.
func (c *cluster) proposal(tb testing.TB, signers []string, propose ...string) string {
	tb.Helper()
	file := filepath.Join(tb.TempDir(), "proposal.json")
	if res, code := c.gov(tb, c.node(tb, "node1").Home, append(append([]string{"propose"}, propose...), "-f", file)...); code != 0 {
		tb.Fatalf("gov propose %v: exit %d %v", propose, code, res)
	}
	for _, s := range signers {
		if res, code := c.gov(tb, c.node(tb, s).Home, "sign", file); code != 0 {
			tb.Fatalf("gov sign as %s: exit %d %v", s, code, res)
		}
	}
	return file
}

// orgIDs lists the member orgs the chain knows (dstt gov orgs).
func (c *cluster) orgIDs(tb testing.TB) []string {
	tb.Helper()
	out, errs, code := c.cli(tb, "--home", c.node(tb, "node1").Home, "gov", "orgs", "-o", "json")
	if code != 0 {
		tb.Fatalf("gov orgs: exit %d %s", code, errs)
	}
	// Accept either {"orgs": [...]} or a bare list of orgs.
	var ids []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if id, ok := x["id"].(string); ok {
				ids = append(ids, id)
				return
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	var v any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		tb.Fatalf("gov orgs output: %v: %q", err, out)
	}
	walk(v)
	return ids
}

// TestGovernance is test 4: a new organisation's node is refused by every member's
// node and receives no block while its org is no member; a governance tx with too few
// org signatures is refused; with k of n it admits the org, whose admin registers the
// node, which then syncs; then its validator, which starts signing blocks; removing a
// genesis validator takes it out of the quorum arithmetic, and removing its org drops
// its node from the network.
func TestGovernance(t *testing.T) {
	c := newCluster(t, "tcp", 4) // k = 3 of 4 orgs
	c.startAll(t)
	n5 := c.addNode(t)
	c.start(t, n5.Name)
	l := c.startLoad(t, "t4", 4) // keeps blocks coming so validator updates take effect
	node1 := c.node(t, "node1").Home
	c.checkOutsider(t, n5.Name, 5)

	// Too few orgs: 2 of the 3 needed. Refused; nothing changes.
	addOrg := c.proposal(t, []string{"node1", "node2"}, "add-org", n5.Org, "--admin", n5.AdminAddress)
	res, code := c.gov(t, node1, "submit", addOrg)
	if code == 0 || res["code_name"] != "UNAUTHORIZED" {
		t.Fatalf("governance tx signed by 2 of 4 orgs (k=3): exit %d %v; want UNAUTHORIZED", code, res)
	}
	if ids := c.orgIDs(t); strings.Contains(strings.Join(ids, ","), n5.Org) {
		t.Fatalf("a refused proposal admitted %s: %v", n5.Org, ids)
	}

	// A third org signs the same file: k of n, admitted.
	if r, code := c.gov(t, c.node(t, "node3").Home, "sign", addOrg); code != 0 {
		t.Fatalf("third signature: %v", r)
	}
	if res, code := c.gov(t, node1, "submit", addOrg); code != 0 {
		t.Fatalf("add-org with 3 of 4 orgs: exit %d %v", code, res)
	}
	if ids := c.orgIDs(t); !strings.Contains(strings.Join(ids, ","), n5.Org) {
		t.Fatalf("%s not a member after the approved proposal: %v", n5.Org, ids)
	}

	// The new org's admin registers its node (through node1: node5 has no block yet),
	// and node5 connects and syncs.
	c.registerNode(t, n5.NodeID, n5.Org, n5.Home, "node1")
	c.waitReady(t, 90*time.Second, n5.Name)

	// gov sign checks membership on the signer's own node: wait until
	// node5 has the block that admitted its org.
	waitUntil(t, 60*time.Second, n5.Name+" sees "+n5.Org+" as a member", func() (bool, string) {
		out, errs, code := c.cli(t, "--home", c.node(t, n5.Name).Home, "gov", "orgs", "-o", "json")
		return code == 0 && strings.Contains(out, `"`+n5.Org+`"`), out + errs
	})

	// Its validator, approved by three orgs, one of them the new org itself.
	addVal := c.proposal(t, []string{"node1", "node2", n5.Name}, "add-validator", "--pub-key", n5.ValidatorPubKey, "--power", "10", "--org", n5.Org)
	res, code = c.gov(t, node1, "submit", addVal)
	if code != 0 {
		t.Fatalf("add-validator: exit %d %v", code, res)
	}
	addr5 := valAddress(t, n5.ValidatorPubKey)
	waitUntil(t, 60*time.Second, n5.Name+" in the validator set", func() (bool, string) {
		vs := c.validators(t, "node1")
		return vs[addr5] == 10, fmt.Sprint(vs)
	})
	// It joins and signs: a commit after it entered carries its signature.
	h0 := maxHeight(c.heights("node1"))
	waitUntil(t, 60*time.Second, n5.Name+" signing commits", func() (bool, string) {
		h := maxHeight(c.heights("node1"))
		for x := h0; x <= h; x++ {
			if x > 0 && c.signedBy(t, "node1", x, addr5) {
				return true, ""
			}
		}
		return false, fmt.Sprintf("heights %d..%d carry no signature of %s", h0, h, addr5)
	})

	// Remove node4. Then 4 validators of power 10 remain: 3 of them are a quorum, so
	// with node4 (removed) and node1 down the chain still commits. Before the removal,
	// 3 of the 5 would not have been (30 of 50 is not above 2/3).
	node4 := c.node(t, "node4")
	rmVal := c.proposal(t, []string{"node1", "node2", "node3"}, "remove-validator", "--pub-key", node4.ValidatorPubKey)
	if res, code := c.gov(t, node1, "submit", rmVal); code != 0 {
		t.Fatalf("remove-validator: exit %d %v", code, res)
	}
	addr4 := valAddress(t, node4.ValidatorPubKey)
	waitUntil(t, 60*time.Second, "node4 out of the validator set", func() (bool, string) {
		vs := c.validators(t, "node2")
		_, in := vs[addr4]
		return !in && len(vs) == 4, fmt.Sprint(vs)
	})
	// Its org goes too: every node drops node4, whose height then stands still.
	rmOrg := c.proposal(t, []string{"node1", "node2", "node3"}, "remove-org", node4.Org)
	if res, code := c.gov(t, node1, "submit", rmOrg); code != 0 {
		t.Fatalf("remove-org: exit %d %v", code, res)
	}
	c.checkDropped(t, "node4", 5)
	c.kill(t, "node4")
	c.kill(t, "node1")
	down := time.Now()
	waitUntil(t, 60*time.Second, "commits with node1 and the removed node4 down", func() (bool, string) {
		return l.count(func(a ack) bool { return a.sent.After(down) }) >= 20, l.describe()
	})
	l.stop()
	c.checkAgreement(t, "node2", "node3", n5.Name)
}

// TestDoubleSignEvidence is test 5: a second process signing with node4's validator key
// (a twin started from another home) makes node4 equivocate; CometBFT turns the
// conflicting votes into evidence, FinalizeBlock receives it as misbehaviour, and the
// engine zeroes node4's power. The chain then runs on the three honest validators.
func TestDoubleSignEvidence(t *testing.T) {
	c := newCluster(t, "tcp", 4)
	c.startAll(t)
	node4 := c.node(t, "node4")
	twin := c.addNode(t)
	// The twin signs as node4: same priv_validator_key.json, its own (fresh) last-sign
	// state, so its double-sign guard does not know what node4 signed.
	copyFile(t, filepath.Join(node4.Home, "config", "priv_validator_key.json"), filepath.Join(twin.Home, "config", "priv_validator_key.json"))
	// Two processes with one key sign identical votes as long as they build identical
	// blocks. The twin keeps the txs sent to it to itself (no mempool gossip), so when
	// node4's turn to propose comes, node4 and the twin propose different blocks and
	// each prevotes its own: conflicting votes.
	setConfigValue(t, filepath.Join(twin.Home, "config", "config.toml"), "broadcast", "false")
	c.registerNode(t, twin.NodeID, node4.Org, node4.Home, "node4") // a node of org4: members admit it
	c.start(t, twin.Name)
	c.waitReady(t, 90*time.Second, twin.Name)
	l := c.startLoad(t, "t5", 4)

	addr4 := valAddress(t, node4.ValidatorPubKey)
	var evidenceAt int64
	waitUntil(t, 120*time.Second, "duplicate-vote evidence against node4 in a block", func() (bool, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r := c.rpc(t, "node1")
		h := maxHeight(c.heights("node1"))
		for x := max(evidenceAt, 1); x <= h; x++ {
			b, err := r.Block(ctx, &x)
			if err != nil {
				return false, err.Error()
			}
			for _, ev := range b.Block.Evidence.Evidence {
				if dv, ok := ev.(*cmttypes.DuplicateVoteEvidence); ok && dv.VoteA.ValidatorAddress.String() == addr4 {
					evidenceAt = x
					return true, ""
				}
			}
			evidenceAt = x
		}
		return false, fmt.Sprintf("no evidence up to height %d (%s)", h, l.describe())
	})
	waitUntil(t, 60*time.Second, "node4 without power", func() (bool, string) {
		vs := c.validators(t, "node1")
		_, in := vs[addr4]
		return !in && len(vs) == 3, fmt.Sprint(vs)
	})
	t.Logf("evidence against %s in block %d; its power is gone", addr4, evidenceAt)

	// node4 and its twin no longer count: the three honest validators carry on.
	c.kill(t, twin.Name)
	c.kill(t, "node4")
	down := time.Now()
	waitUntil(t, 60*time.Second, "commits without node4", func() (bool, string) {
		return l.count(func(a ack) bool { return a.sent.After(down) }) >= 20, l.describe()
	})
	l.stop()
	c.checkAgreement(t, "node1", "node2", "node3")
}

func copyFile(tb testing.TB, from, to string) {
	tb.Helper()
	in, err := os.Open(from)
	if err != nil {
		tb.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_TRUNC|os.O_CREATE, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		tb.Fatal(err)
	}
	if err := out.Close(); err != nil {
		tb.Fatal(err)
	}
}

// setConfigValue rewrites the first `key = VALUE` line of config.toml (VALUE as TOML,
// unquoted).
func setConfigValue(tb testing.TB, path, key, value string) {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` = .*$`)
	loc := re.FindIndex(data)
	if loc == nil {
		tb.Fatalf("%s: no %s line", path, key)
	}
	out := append(append(append([]byte{}, data[:loc[0]]...), key+" = "+value...), data[loc[1]:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		tb.Fatal(err)
	}
}
