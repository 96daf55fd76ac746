package keyring

import (
	"os"

	"golang.org/x/term"
)

// readHidden reads one line from f with terminal echo off (golang.org/x/term).
// If f is not a terminal it reads the line as is and reports hidden=false.
func readHidden(f *os.File) (line []byte, hidden bool, err error) {
	fd := int(f.Fd())
	if !term.IsTerminal(fd) {
		line, err = readLine(f)
		return line, false, err
	}
	line, err = term.ReadPassword(fd)
	return line, true, err
}
