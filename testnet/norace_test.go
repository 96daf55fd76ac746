//go:build !race

package testnet_test

import (
	"os"
	"testing"
)

// raceEnabled: this test binary is built without -race (see race_test.go).
const raceEnabled = false

// TestMain removes the binaries the tests built once they are done.
func TestMain(m *testing.M) {
	code := m.Run()
	removeBinaries()
	os.Exit(code)
}
