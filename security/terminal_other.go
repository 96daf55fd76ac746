//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package security

import "os"

// readHidden reads one line from f. On this platform dstt cannot turn
// terminal echo off, so the passphrase is visible as typed; prefer
// $DSTT_KEYRING_PASSPHRASE here.
func readHidden(f *os.File) (line []byte, hidden bool, err error) {
	line, err = readLine(f)
	return line, false, err
}
