//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package security

import (
	"os"

	"golang.org/x/sys/unix"
)

// readHidden reads one line from f with terminal echo off. If f is not a
// terminal it reads the line as is and reports hidden=false.
func readHidden(f *os.File) (line []byte, hidden bool, err error) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, ioctlGetTermios)
	if err != nil {
		line, err = readLine(f)
		return line, false, err
	}
	t := *old
	t.Lflag &^= unix.ECHO
	t.Lflag |= unix.ICANON | unix.ISIG
	t.Iflag |= unix.ICRNL
	if err := unix.IoctlSetTermios(fd, ioctlSetTermios, &t); err != nil {
		line, err = readLine(f)
		return line, false, err
	}
	defer unix.IoctlSetTermios(fd, ioctlSetTermios, old)
	line, err = readLine(f)
	return line, true, err
}
