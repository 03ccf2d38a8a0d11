//go:build linux

package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPty opens a pseudo-terminal and returns its two ends.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// TestInterruptWhileReadingATerminal: a command that reads a message from
// a terminal says how to end it, and Ctrl-C (SIGINT) stops it at once:
// "interrupted", exit 130, nothing changed.
func TestInterruptWhileReadingATerminal(t *testing.T) {
	home := newHome(t)
	before := readHead(t, home)
	_, tty := openPty(t)
	cmd := exec.Command("ac-friend", "add")
	cmd.Env = append(os.Environ(), "AC_HOME="+home, "AC_API=")
	cmd.Stdin = tty
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "end with Ctrl-D"); {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("ac-friend add on a terminal did not say how to end the input: %q", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(os.Interrupt)
	err := cmd.Wait()
	var exit *exec.ExitError
	want := "ac-friend: reading the message from stdin; end with Ctrl-D\nac-friend: interrupted\n"
	if !errors.As(err, &exit) || exit.ExitCode() != ExitInterrupted || stderr.String() != want {
		t.Errorf("ac-friend add interrupted = %v, stderr %q; want exit %d and %q", err, stderr.String(), ExitInterrupted, want)
	}
	if readHead(t, home) != before {
		t.Errorf("HEAD moved")
	}
}
