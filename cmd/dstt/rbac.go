package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dstt/dstt/rbac"
	"github.com/dstt/dstt/types"
)

func newRBACCmd(g *globals) *cobra.Command {
	f := &txFlags{}
	cmd := &cobra.Command{
		Use:   "rbac",
		Short: "Access control: roles, allow/deny rules, and checks",
		Long: `Access control held in the chain's state (Casbin RBAC with domains). A key's
domain is its first '/'-separated segment ("bank1/payments/7" is in "bank1").
Rules say that a subject (an address, a role, or "anyone") may (allow) or may
not (deny) read, write or admin keys matching a pattern ("bank1/payments/*",
"bank1/:acct/balance", "*"); deny wins. Changing the policy needs admin in
the domain; it is a signed tx like any other (--from) and takes effect from
the next tx. See docs/RBAC.md.

Changes go through the REST gateway like any tx. "rbac list" and "rbac
check" are raw ABCI queries, which only CometBFT's RPC serves (an operator
port, loopback-only with access control): run them on the node's host (the
home's RPC), or pass --node tcp://HOST:PORT.`,
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&f.from, "from", "", "signing key (default: the home's)")
	pf.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for the node")
	f.validFor = 100

	grant := func(subject, role, domain string) types.Op {
		return types.Op{Sum: &types.Op_Grant{Grant: &types.Grant{Subject: subject, Role: role, Domain: domain}}}
	}
	revoke := func(subject, role, domain string) types.Op {
		return types.Op{Sum: &types.Op_Revoke{Revoke: &types.Revoke{Subject: subject, Role: role, Domain: domain}}}
	}
	cmd.AddCommand(
		newRBACRoleCmd(g, f, "grant", "Give SUBJECT (an address or a role) ROLE in domain D (\"*\" = every domain)", grant),
		newRBACRoleCmd(g, f, "revoke", "Take ROLE in domain D back from SUBJECT", revoke),
		newRBACRuleCmd(g, f, false), newRBACRuleCmd(g, f, true),
		newRBACListCmd(g, f), newRBACCheckCmd(g, f))
	return cmd
}

// newRBACRoleCmd is `rbac grant` or `rbac revoke` (verb): a tx of the one
// op that op makes.
func newRBACRoleCmd(g *globals, f *txFlags, verb, short string, op func(subject, role, domain string) types.Op) *cobra.Command {
	var domain, to string
	c := &cobra.Command{
		Use:   verb + " ROLE --to SUBJECT [--domain D]",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return g.submit(f, []types.Op{op(to, args[0], domain)})
		},
	}
	c.Flags().StringVar(&to, "to", "", "the address or role that gets (or loses) the role")
	c.Flags().StringVar(&domain, "domain", rbac.AllDomains, "domain of the grant")
	_ = c.MarkFlagRequired("to")
	return c
}

// newRBACRuleCmd is `rbac allow`, or `rbac deny` when deny is set.
func newRBACRuleCmd(g *globals, f *txFlags, deny bool) *cobra.Command {
	verb := "allow"
	if deny {
		verb = "deny"
	}
	var ruleDomain string
	var remove bool
	c := &cobra.Command{
		Use:   verb + " SUBJECT ACTION PATTERN [--domain D] [--remove]",
		Short: fmt.Sprintf("Add (or --remove) a rule: SUBJECT may%s ACTION (read|write|admin|*) keys matching PATTERN", map[bool]string{true: " not", false: ""}[deny]),
		Args:  cobra.ExactArgs(3),
		RunE: func(_ *cobra.Command, args []string) error {
			dom := ruleDomain
			if dom == "" {
				dom = rbac.DomainOf(args[2])
				if args[2] == "*" || strings.HasPrefix(args[2], ":") {
					dom = rbac.AllDomains
				}
			}
			return g.submit(f, []types.Op{{Sum: &types.Op_Policy{Policy: &types.PolicyRule{
				Subject: args[0], Action: args[1], Object: args[2], Domain: dom, Deny: deny, Remove: remove,
			}}}})
		},
	}
	c.Flags().StringVar(&ruleDomain, "domain", "", "domain of the rule (default: the pattern's first segment, or * for \"*\")")
	c.Flags().BoolVar(&remove, "remove", false, "remove the rule instead of adding it")
	return c
}

func newRBACListCmd(g *globals, f *txFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Print every rule and grant",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			var view types.PolicyView
			if err := g.rawQuery(f.from, types.QueryPolicy, nil, &view); err != nil {
				return err
			}
			return g.print(view, func(w io.Writer) {
				if view.Open {
					fmt.Fprintln(w, "access control is OFF: genesis named no admins (every signer may do everything)")
				}
				for _, r := range view.Rules {
					fmt.Fprintln(w, r)
				}
				for _, gr := range view.Grants {
					fmt.Fprintln(w, gr)
				}
			})
		},
	}
}

func newRBACCheckCmd(g *globals, f *txFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "check SUBJECT ACTION KEY",
		Short: "Ask whether SUBJECT may do ACTION (read|write|admin) on KEY, and why",
		Args:  cobra.ExactArgs(3),
		RunE: func(_ *cobra.Command, args []string) error {
			req, _ := json.Marshal(types.CheckRequest{Subject: args[0], Action: args[1], Key: args[2]})
			var res types.CheckResult
			if err := g.rawQuery(f.from, types.QueryCheck, req, &res); err != nil {
				return err
			}
			return g.print(res, func(w io.Writer) {
				verdict := "may NOT"
				if res.Allowed {
					verdict = "may"
				}
				fmt.Fprintf(w, "%s %s %s %q (domain %s): %s\n", args[0], verdict, args[1], args[2], res.Domain, res.Reason)
				for _, b := range res.Because {
					fmt.Fprintf(w, "  %s\n", b)
				}
			})
		},
	}
}

// rawQuery runs a signed ABCI query whose answer is JSON. The gateway has
// no raw queries: these go to CometBFT's RPC (the home's, or --node tcp://).
func (g *globals) rawQuery(from, path string, data []byte, out any) error {
	c, ctx, cancel, err := g.readerClientOver(from, g.rpcClient)
	if err != nil {
		return err
	}
	defer cancel()
	raw, err := c.Raw(ctx, path, data)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}
