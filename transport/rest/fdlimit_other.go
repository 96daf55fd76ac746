//go:build !unix

package rest

// fdLimit: unknown on this platform.
func fdLimit() (uint64, bool) { return 0, false }
