package siemtest

import (
	"encoding/json"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/audit/format"
	"github.com/dstt/dstt/audit/format/ecstest"
)

// readJSON decodes docs/siem/elastic/NAME, refusing trailing data.
func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(siemDir, "elastic", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if dec.More() {
		t.Fatalf("%s: data after the JSON value", name)
	}
}

// mappingProps is an Elasticsearch mapping's "properties".
type mappingProps map[string]struct {
	Type       string       `json:"type"`
	Properties mappingProps `json:"properties"`
}

// flatten returns the leaf fields of a mapping: dotted path -> type.
func (p mappingProps) flatten(prefix string, out map[string]string) map[string]string {
	for name, f := range p {
		if f.Properties != nil {
			f.Properties.flatten(prefix+name+".", out)
			continue
		}
		out[prefix+name] = f.Type
	}
	return out
}

type indexTemplate struct {
	IndexPatterns []string `json:"index_patterns"`
	Meta          struct {
		ECSVersion string `json:"ecs_version"`
	} `json:"_meta"`
	Template struct {
		Settings struct {
			Index struct {
				DefaultPipeline string `json:"default_pipeline"`
			} `json:"index"`
		} `json:"settings"`
		Mappings struct {
			Properties mappingProps `json:"properties"`
		} `json:"mappings"`
	} `json:"template"`
}

// docFields returns the leaf fields of a JSON document: dotted path ->
// its values (an array of scalars is one field).
func docFields(prefix string, v any, out map[string][]any) {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			docFields(prefix+k+".", sub, out)
		}
	case []any:
		for _, sub := range v {
			docFields(prefix, sub, out)
		}
	default:
		p := strings.TrimSuffix(prefix, ".")
		out[p] = append(out[p], v)
	}
}

// fits reports whether a JSON value can be indexed as typ.
func fits(typ string, v any) bool {
	s, isString := v.(string)
	switch typ {
	case "keyword", "match_only_text":
		return isString
	case "long":
		_, ok := v.(float64)
		return ok
	case "ip":
		return isString && net.ParseIP(s) != nil
	case "date", "date_nanos":
		_, err := time.Parse(time.RFC3339Nano, s)
		return isString && err == nil
	}
	return false
}

// TestElasticTemplate checks that the index template maps, with a type
// that accepts the value, every field of the ECS document of every
// generated entry (so nothing is left to dynamic mapping), and that the
// pipeline the template names is the one shipped.
func TestElasticTemplate(t *testing.T) {
	var tmpl indexTemplate
	readJSON(t, "index-template.json", &tmpl)
	var pipeline map[string]any
	readJSON(t, "ingest-pipeline.json", &pipeline)
	if tmpl.Template.Settings.Index.DefaultPipeline != "dstt-audit" || len(tmpl.IndexPatterns) == 0 {
		t.Fatalf("template: default_pipeline %q, index_patterns %v", tmpl.Template.Settings.Index.DefaultPipeline, tmpl.IndexPatterns)
	}
	mapped := tmpl.Template.Mappings.Properties.flatten("", map[string]string{})
	seen := map[string]bool{}
	for _, ev := range generated(t) {
		opts := format.Options{Chain: ev.chain, ChainID: "dstt-test", Hostname: "node0.example"}
		f, err := format.New(format.ECS, opts)
		if err != nil {
			t.Fatal(err)
		}
		line := f.Append(nil, &ev.entry)
		var doc map[string]any
		if err := json.Unmarshal(line, &doc); err != nil {
			t.Fatal(err)
		}
		fields := map[string][]any{}
		docFields("", doc, fields)
		for path, vals := range fields {
			typ, ok := mapped[path]
			if !ok {
				if !seen[path] {
					t.Errorf("the ecs format writes %s, which the template does not map\n  %s", path, line)
				}
				seen[path] = true
				continue
			}
			for _, v := range vals {
				if !fits(typ, v) {
					t.Errorf("%s: %v (%T) does not fit the template's %s", path, v, v, typ)
				}
			}
		}
	}
}

var (
	pipelineCtxRef      = regexp.MustCompile(`ctx\.([A-Za-z_@][A-Za-z0-9_?.]*)`)
	pipelineTemplateRef = regexp.MustCompile(`\{\{\{?\s*([A-Za-z_@][A-Za-z0-9_.]*)\s*\}?\}\}`)
)

// pipelineFields collects every field an ingest pipeline reads or writes:
// processors' field and target_field, {{{templates}}} and ctx.* in
// conditions and scripts. _ingest metadata is left out.
func pipelineFields(v any, out map[string]bool) {
	switch v := v.(type) {
	case map[string]any:
		for k, sub := range v {
			if s, ok := sub.(string); ok && (k == "field" || k == "target_field") {
				out[s] = true
			}
			pipelineFields(sub, out)
		}
	case []any:
		for _, sub := range v {
			pipelineFields(sub, out)
		}
	case string:
		for _, re := range []*regexp.Regexp{pipelineCtxRef, pipelineTemplateRef} {
			for _, m := range re.FindAllStringSubmatch(v, -1) {
				if f := strings.ReplaceAll(m[1], "?", ""); !strings.HasPrefix(f, "_ingest.") {
					out[f] = true
				}
			}
		}
	}
}

// TestElasticECSFields checks the template and the pipeline against the
// ECS version the ecs format writes: every field outside dstt.* is an ECS
// field, mapped with ECS's type, and every field the pipeline touches is
// an ECS field or one of the template's dstt.* fields.
func TestElasticECSFields(t *testing.T) {
	var tmpl indexTemplate
	readJSON(t, "index-template.json", &tmpl)
	if tmpl.Meta.ECSVersion != format.ECSVersion {
		t.Errorf("template _meta.ecs_version %s, the ecs format writes ECS %s", tmpl.Meta.ECSVersion, format.ECSVersion)
	}
	ecs := ecstest.Load(t, format.ECSVersion)
	mapped := tmpl.Template.Mappings.Properties.flatten("", map[string]string{})
	for _, path := range slices.Sorted(maps.Keys(mapped)) {
		if strings.HasPrefix(path, "dstt.") {
			continue
		}
		def, ok := ecs[path]
		if !ok {
			if parent, _, _ := strings.Cut(path, "."); ecs[parent].Type == "object" {
				continue // labels.*: ECS leaves the keys to the user
			}
			t.Errorf("template maps %s, which is not an ECS %s field", path, format.ECSVersion)
			continue
		}
		if def.Type != mapped[path] {
			t.Errorf("template maps %s as %s, ECS types it %s", path, mapped[path], def.Type)
		}
	}
	var pipeline map[string]any
	readJSON(t, "ingest-pipeline.json", &pipeline)
	used := map[string]bool{}
	pipelineFields(pipeline, used)
	if len(used) == 0 {
		t.Fatal("found no fields in the pipeline")
	}
	for _, f := range slices.Sorted(maps.Keys(used)) {
		if _, isECS := ecs[f]; isECS {
			continue
		}
		if _, ok := mapped[f]; ok && strings.HasPrefix(f, "dstt.") {
			continue
		}
		t.Errorf("the pipeline uses %s, which is neither an ECS field nor a dstt.* field of the template", f)
	}
	t.Logf("pipeline fields: %v", slices.Sorted(maps.Keys(used)))
}
