//go:build race

package testnet_test

import (
	"testing"

	"github.com/dstt/dstt/testnet/racereport"
)

// raceEnabled: this test binary is built with -race, so the dstt binary the
// tests build and run is built with -race too (dsttBinary).
const raceEnabled = true

// TestMain fails the run on a race any dstt process the tests start reports,
// and removes the binaries the tests built.
func TestMain(m *testing.M) { racereport.Main(m, removeBinaries) }
