//go:build !race

package testnet_test

// raceEnabled: this test binary is built without -race (see race_test.go).
const raceEnabled = false
