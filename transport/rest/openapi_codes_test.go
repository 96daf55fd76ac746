package rest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/dstt/dstt/types"
)

// TestOpenAPIListsEveryResultCode: every tx result code name is in the
// OpenAPI enums a client generates its types from (tx outcomes and problem
// documents), so a new code cannot ship undocumented.
func TestOpenAPIListsEveryResultCode(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	var enums int
	for name, s := range doc.Components.Schemas {
		for prop, p := range s.Properties {
			if (prop != "code_name" && prop != "code") || len(p.Enum) == 0 {
				continue
			}
			enums++
			for _, c := range types.Codes() {
				if c == types.CodeOK && prop == "code" {
					continue // problems are never OK
				}
				if !slices.Contains(p.Enum, c.Name()) {
					t.Errorf("%s.%s lacks %s", name, prop, c.Name())
				}
			}
		}
	}
	if enums < 2 {
		t.Fatalf("found %d code enums, want the tx outcome's and the problem's", enums)
	}
}
