package format

import (
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dstt/dstt/audit/format/ecstest"
)

// TestECSSchema checks the ECS document of every sample entry against the
// ECS field table: every field outside the custom "dstt" set exists in ECS,
// its JSON value suits the field's type (arrays only where ECS normalizes
// to an array), values are among allowed_values, and every event.type is
// one ECS expects for every event.category given.
func TestECSSchema(t *testing.T) {
	fields := ecstest.Load(t, ECSVersion)
	for name := range fields {
		if name == "dstt" || strings.HasPrefix(name, "dstt.") {
			t.Fatalf("ECS defines %s: the custom field set would collide", name)
		}
	}
	// The checker itself finds what the issue found in earlier output.
	bad := map[string]any{
		"event": map[string]any{"category": []any{"iam", "database"}, "type": []any{"denied", "deletion"}, "outcome": "refused"},
		"user":  map[string]any{"uid": "x"}, "source": map[string]any{"ip": "node0"}, "labels": map[string]any{"n": 1.0},
	}
	var got []string
	checkECSObject(fields, "", bad, &got)
	got = append(got, checkECSCategories(fields, bad)...)
	for _, want := range []string{"user.uid is not an ECS field", "source.ip value does not fit", "labels.n does not fit",
		"event.outcome value is not an allowed value", "event.type denied is not expected with event.category iam",
		"event.type deletion is not expected with event.category database"} {
		if !slices.ContainsFunc(got, func(p string) bool { return strings.HasPrefix(p, want) }) {
			t.Errorf("checker missed %q; found %q", want, got)
		}
	}
	f := mustNew(t, ECS)
	for _, e := range sampleEntries() {
		b := f.Append(nil, &e)
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		var problems []string
		checkECSObject(fields, "", doc, &problems)
		problems = append(problems, checkECSCategories(fields, doc)...)
		for _, p := range problems {
			t.Errorf("%s: %s\n%s", sampleName(&e), p, b)
		}
	}
}

func checkECSObject(fields map[string]ecstest.Field, prefix string, obj map[string]any, problems *[]string) {
	for k, v := range obj {
		path := prefix + k
		if path == "dstt" {
			continue // the custom field set
		}
		fd, ok := fields[path]
		if !ok {
			if sub, isObj := v.(map[string]any); isObj {
				checkECSObject(fields, path+".", sub, problems)
			} else {
				*problems = append(*problems, path+" is not an ECS field")
			}
			continue
		}
		if fd.Type == "object" || fd.Type == "flattened" {
			sub, isObj := v.(map[string]any)
			if !isObj {
				*problems = append(*problems, path+" is not an object")
				continue
			}
			for sk, sv := range sub {
				if !ecsValueFits(fd.ObjectType, sv) {
					*problems = append(*problems, path+"."+sk+" does not fit "+fd.ObjectType)
				}
			}
			continue
		}
		vals := []any{v}
		if arr, isArr := v.([]any); isArr {
			if !slices.Contains(fd.Normalize, "array") {
				*problems = append(*problems, path+" is an array; ECS does not normalize it to one")
			}
			vals = arr
		}
		for _, x := range vals {
			if !ecsValueFits(fd.Type, x) {
				*problems = append(*problems, path+" value does not fit type "+fd.Type)
			}
			if len(fd.AllowedValues) > 0 && !slices.ContainsFunc(fd.AllowedValues, func(a ecstest.Allowed) bool {
				return a.Name == x
			}) {
				*problems = append(*problems, path+" value is not an allowed value")
			}
		}
	}
}

// ecsValueFits reports whether a decoded JSON value suits an ECS type.
func ecsValueFits(typ string, v any) bool {
	switch typ {
	case "keyword", "constant_keyword", "wildcard", "text", "match_only_text":
		_, ok := v.(string)
		return ok
	case "long", "integer", "short", "byte", "unsigned_long":
		n, ok := v.(float64)
		return ok && n == float64(int64(n))
	case "float", "half_float", "scaled_float", "double":
		_, ok := v.(float64)
		return ok
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "date":
		s, ok := v.(string)
		if !ok {
			return false
		}
		_, err := time.Parse(time.RFC3339Nano, s)
		return err == nil
	case "ip":
		s, ok := v.(string)
		return ok && net.ParseIP(s) != nil
	}
	return false
}

// checkECSCategories: each event.type must be expected for each
// event.category (expected_event_types in event.category's allowed_values).
func checkECSCategories(fields map[string]ecstest.Field, doc map[string]any) []string {
	ev, _ := doc["event"].(map[string]any)
	cats, _ := ev["category"].([]any)
	types, _ := ev["type"].([]any)
	if len(cats) == 0 || len(types) == 0 {
		return []string{"event.category and event.type are required"}
	}
	var problems []string
	for _, c := range cats {
		i := slices.IndexFunc(fields["event.category"].AllowedValues, func(a ecstest.Allowed) bool {
			return a.Name == c
		})
		if i < 0 {
			problems = append(problems, "event.category "+c.(string)+" is not allowed")
			continue
		}
		for _, ty := range types {
			if !slices.Contains(fields["event.category"].AllowedValues[i].ExpectedEventTypes, ty.(string)) {
				problems = append(problems, "event.type "+ty.(string)+" is not expected with event.category "+c.(string))
			}
		}
	}
	return problems
}
