package format

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestAuditDocSamples: each format's sample in docs/AUDIT.md is the first
// record of its golden file ("…" in the doc stands for left-out text,
// `\xEF\xBB\xBF` for the BOM's bytes), so the doc shows what dstt writes.
func TestAuditDocSamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/AUDIT.md")
	if err != nil {
		t.Fatal(err)
	}
	heads := map[string]string{"**CEF**": "cef", "**LEEF 2.0**": "leef", "**RFC 5424**": "rfc5424",
		"**ECS**": "ecs", "**OCSF 1.8.0**": "ocsf", "**Splunk HEC**": "hec"}
	section := string(doc)
	if i := strings.Index(section, "\n## Formats"); i >= 0 {
		section = section[i:]
	}
	seen := map[string]bool{}
	var format string
	lines := strings.Split(section, "\n")
	for i := 0; i < len(lines); i++ {
		for head, f := range heads {
			if strings.HasPrefix(lines[i], head) {
				format = f
			}
		}
		if strings.TrimSpace(lines[i]) != "```" || format == "" || i+1 >= len(lines) {
			continue
		}
		sample := strings.ReplaceAll(lines[i+1], `\xEF\xBB\xBF`, "\uFEFF")
		golden, err := os.ReadFile("testdata/golden/" + format + ".txt")
		if err != nil {
			t.Fatal(err)
		}
		first, _, _ := strings.Cut(string(golden), "\n")
		parts := strings.Split(sample, "…")
		for j := range parts {
			parts[j] = regexp.QuoteMeta(parts[j])
		}
		if !regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(first) {
			t.Errorf("docs/AUDIT.md's %s sample is not the golden record:\ndoc:    %s\ngolden: %s", format, sample, first)
		}
		seen[format] = true
		format = ""
		i++
	}
	for _, f := range heads {
		if !seen[f] {
			t.Errorf("docs/AUDIT.md has no %s sample", f)
		}
	}
}
