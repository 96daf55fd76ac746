package assemble_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dstt/dstt/consensus"
	"github.com/dstt/dstt/consensus/assemble"
)

// Validate names every problem at once, with the values.
func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := assemble.DefaultConfig()
	cfg.VerifierCacheSize = -3
	cfg.REST.ListenAddress = "not-an-address"
	err := cfg.Validate()
	if !errors.Is(err, assemble.ErrInvalidConfig) {
		t.Fatalf("Validate: %v", err)
	}
	for _, want := range []string{"Home is empty", "VerifierCacheSize -3", "REST:"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q missing from %v", want, err)
		}
	}
	cfg = assemble.DefaultConfig()
	cfg.Home = "/somewhere"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("DefaultConfig with a home: %v", err)
	}
}

// New refuses a home InitHome never made, before opening anything.
func TestNewNeedsAnInitialisedHome(t *testing.T) {
	cfg := assemble.DefaultConfig()
	cfg.Home = filepath.Join(t.TempDir(), "empty")
	if _, err := assemble.New(cfg); !errors.Is(err, consensus.ErrNotInitialised) {
		t.Fatalf("New on an empty home: %v", err)
	}
}
