//go:build !race

package main

// raceEnabled: this test binary is built without -race (see race_test.go).
const raceEnabled = false
