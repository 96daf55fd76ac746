package siemtest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	sigma "github.com/bradleyjkemp/sigma-go"
	"github.com/bradleyjkemp/sigma-go/evaluator"

	"github.com/dstt/dstt/audit"
)

// siemDir is docs/siem, from this package's directory.
const siemDir = "../../../docs/siem"

// ruleTargets says, for every Sigma rule file, which steps it is written
// to detect. It must fire on every entry those steps left and on no other.
var ruleTargets = map[string][]string{
	"dstt_unauthorized_transaction.yml": {evUnauthorizedTx},
	"dstt_read_denied.yml":              {evReadDenied},
	"dstt_replay.yml":                   {evReplay},
	"dstt_retired_key_used.yml":         {evRetiredKey},
	"dstt_forged_signature.yml":         {evForgedSignature},
	"dstt_key_rotation.yml":             {evKeyRotation},
	"dstt_access_policy_change.yml":     {evPolicyChange},
	"dstt_governance_change.yml":        {evGovernance},
	"dstt_validator_misbehaviour.yml":   {evMisbehaviour},
	"dstt_audit_log_truncated.yml":      {evAuditGap},
	"dstt_retention_change.yml":         {evParamsChange},
	"dstt_audit_anchor.yml":             {evAuditAnchor},
}

type ruleFile struct {
	name string
	rule sigma.Rule
}

// loadRules parses every rule file with sigma-go and checks what the Sigma
// specification requires of a rule and what dstt's rules promise.
func loadRules(t *testing.T) []ruleFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(siemDir, "sigma", "*.yml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no rules in %s/sigma: %v", siemDir, err)
	}
	var rules []ruleFile
	ids := map[string]string{}
	for _, p := range paths {
		name := filepath.Base(p)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if sigma.InferFileType(b) != sigma.RuleFile {
			t.Errorf("%s: sigma-go does not see a rule", name)
			continue
		}
		r, err := sigma.ParseRule(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, problem := range ruleProblems(r) {
			t.Errorf("%s: %s", name, problem)
		}
		if other, ok := ids[r.ID]; ok {
			t.Errorf("%s: id %s is also %s's", name, r.ID, other)
		}
		ids[r.ID] = name
		rules = append(rules, ruleFile{name, r})
	}
	names := slices.Sorted(maps.Keys(ruleTargets))
	for _, rf := range rules {
		if !slices.Contains(names, rf.name) {
			t.Errorf("%s has no expected targets in ruleTargets", rf.name)
		}
	}
	if len(rules) != len(ruleTargets) {
		t.Errorf("%d rule files, %d in ruleTargets", len(rules), len(ruleTargets))
	}
	return rules
}

var (
	uuidRE  = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	tagRE   = regexp.MustCompile(`^(attack|car|cve|detection|stp|tlp)\.[a-z0-9._-]+$`)
	dateRE  = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}`)
	statusS = []string{"stable", "test", "experimental", "deprecated", "unsupported"}
	levelS  = []string{"informational", "low", "medium", "high", "critical"}
)

// ruleProblems lists what is wrong with r's metadata and detection.
func ruleProblems(r sigma.Rule) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if r.Title == "" || len(r.Title) > 256 {
		bad("title %q: required, at most 256 characters", r.Title)
	}
	if !uuidRE.MatchString(r.ID) {
		bad("id %q is not a lower-case UUID", r.ID)
	}
	if !slices.Contains(statusS, r.Status) {
		bad("status %q is not one of %v", r.Status, statusS)
	}
	if !slices.Contains(levelS, r.Level) {
		bad("level %q is not one of %v", r.Level, levelS)
	}
	if strings.TrimSpace(r.Description) == "" {
		bad("no description")
	}
	if r.Logsource.Product != "dstt" || r.Logsource.Service != "audit" {
		bad("logsource %+v: want product dstt, service audit", r.Logsource)
	}
	if len(r.Tags) == 0 {
		bad("no tags")
	}
	for _, tag := range r.Tags {
		if !tagRE.MatchString(tag) {
			bad("tag %q is not NAMESPACE.value in lower case", tag)
		}
	}
	if d, ok := r.AdditionalFields["date"]; !ok || !dateRE.MatchString(fmt.Sprint(d)) {
		bad("date %v: want YYYY-MM-DD", d)
	}
	if len(r.Detection.Conditions) == 0 || len(r.Detection.Searches) == 0 {
		bad("detection needs searches and a condition")
	}
	fields := nativeFields()
	for name, s := range r.Detection.Searches {
		if len(s.Keywords) > 0 {
			bad("search %s: keyword searches depend on the backend; match fields", name)
		}
		for _, m := range s.EventMatchers {
			for _, f := range m {
				if !slices.Contains(fields, f.Field) {
					bad("search %s: %q is not a native JSON field (%v)", name, f.Field, fields)
				}
			}
		}
	}
	return out
}

// nativeFields are the keys of the native JSON form of an entry with every
// field set.
func nativeFields() []string {
	e := audit.Entry{Seq: 1, Height: 1, TxIndex: 1, Time: time.Unix(1, 0), Kind: audit.KindTxCommitted,
		Actor: "a", Action: "put", Resources: []string{"k"}, Code: 1, CodeName: "X", Message: "m",
		TxHash: []byte{1}, PrevHash: []byte{1}, Hash: []byte{1}}
	b, err := json.Marshal(e)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	return slices.Sorted(maps.Keys(m))
}

// TestSigmaRules evaluates every rule with sigma-go over every generated
// entry: a rule fires exactly on the entries of the steps it targets.
func TestSigmaRules(t *testing.T) {
	rules := loadRules(t)
	events := generated(t)
	seen := map[string]int{}
	for _, ev := range events {
		seen[ev.label]++
	}
	for _, l := range labels {
		if seen[l] == 0 {
			t.Errorf("no entry was recorded for step %q", l)
		}
	}
	ctx := context.Background()
	var matrix strings.Builder
	fmt.Fprintf(&matrix, "%-36s", "rule \\ step (fired/entries)")
	for _, l := range labels {
		fmt.Fprintf(&matrix, " %16s", l)
	}
	for _, rf := range rules {
		eval := evaluator.ForRule(rf.rule)
		fired := map[string]int{}
		for _, ev := range events {
			var doc map[string]any
			if err := json.Unmarshal(ev.line, &doc); err != nil {
				t.Fatal(err)
			}
			res, err := eval.Matches(ctx, doc)
			if err != nil {
				t.Fatalf("%s: %v", rf.name, err)
			}
			want := slices.Contains(ruleTargets[rf.name], ev.label)
			if res.Match {
				fired[ev.label]++
			}
			if res.Match != want {
				t.Errorf("%s on a %s entry (%s chain): fired=%v, want %v\n  %s", rf.name, ev.label, ev.chain, res.Match, want, ev.line)
			}
		}
		fmt.Fprintf(&matrix, "\n%-36s", rf.name)
		for _, l := range labels {
			fmt.Fprintf(&matrix, " %16s", fmt.Sprintf("%d/%d", fired[l], seen[l]))
		}
	}
	t.Logf("%d entries from the scenarios; rules x steps:\n%s", len(events), matrix.String())
}
