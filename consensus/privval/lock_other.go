//go:build !unix

package privval

// lockFile is a no-op where flock is unavailable: run one signer per
// state file.
func lockFile(string) (func() error, error) { return func() error { return nil }, nil }
