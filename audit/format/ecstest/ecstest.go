// Package ecstest loads Elastic's ECS field table for tests: the flat table
// (ecs_flat) that `make test-deps` exports from the npm package
// @elastic/ecs into DSTT_ECS_DIR (default ~/.cache/dstt/ecs-VERSION). A
// test whose table is missing is skipped, or fails when DSTT_REQUIRE_ECS
// is set (as `make test` sets it).
package ecstest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Field is one field of ECS's flat field table.
type Field struct {
	Type          string    `json:"type"`
	Normalize     []string  `json:"normalize"`
	ObjectType    string    `json:"object_type"`
	AllowedValues []Allowed `json:"allowed_values"`
}

// Allowed is one of a field's allowed values.
type Allowed struct {
	Name               string   `json:"name"`
	ExpectedEventTypes []string `json:"expected_event_types"`
}

// Dir is where the table of ECS version is: DSTT_ECS_DIR, or
// ~/.cache/dstt/ecs-VERSION.
func Dir(version string) string {
	if dir := os.Getenv("DSTT_ECS_DIR"); dir != "" {
		return dir
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "dstt", "ecs-"+version)
}

// Load reads the field table of ECS version, by field name. It checks that
// the package it came from is that version (when its package.json is
// there) and that the table is not a stub.
func Load(t testing.TB, version string) map[string]Field {
	t.Helper()
	dir := Dir(version)
	b, err := os.ReadFile(filepath.Join(dir, "ecs_flat.json"))
	if err != nil {
		msg := "the ECS field table " + dir + "/ecs_flat.json is missing (make test-deps fetches it): " + err.Error()
		if strings.TrimSpace(os.Getenv("DSTT_REQUIRE_ECS")) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if pb, err := os.ReadFile(filepath.Join(dir, "package", "package.json")); err == nil {
		_ = json.Unmarshal(pb, &pkg)
		if pkg.Version != version {
			t.Fatalf("%s holds @elastic/ecs %s, want ECS %s", dir, pkg.Version, version)
		}
	}
	var fields map[string]Field
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	if len(fields) < 1000 {
		t.Fatalf("the ECS table in %s has only %d fields", dir, len(fields))
	}
	return fields
}
