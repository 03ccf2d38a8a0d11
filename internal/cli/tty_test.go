//go:build linux

package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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

// TestPassphraseAtATerminal: at a terminal, ac-identity new offers to
// seal the new key (asking twice, without echo), and a command that must
// sign with a sealed key asks for its passphrase when AC_PASSPHRASE does
// not give it.
func TestPassphraseAtATerminal(t *testing.T) {
	home := newHome(t)
	run := func(answers []string, args ...string) (string, error) {
		t.Helper()
		master, tty := openPty(t)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "AC_HOME="+home, "AC_API=", "AC_PASSPHRASE=")
		cmd.Stdin = tty
		stderr := &syncBuffer{}
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		for i, a := range answers {
			for deadline := time.Now().Add(30 * time.Second); strings.Count(stderr.String(), ": ") < i+1 || !strings.HasSuffix(stderr.String(), ": "); {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("%v: no prompt %d: %q", args, i+1, stderr.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			master.Write([]byte(a + "\n"))
		}
		err := cmd.Wait()
		return stderr.String(), err
	}
	out, err := run([]string{"s3cret", "s3cret"}, "ac-identity", "new", "identities/alice")
	if err != nil || !strings.Contains(out, "passphrase to seal the new key") || strings.Contains(out, "s3cret") {
		t.Fatalf("ac-identity new at a terminal: %v, stderr %q", err, out)
	}
	keys, _ := os.ReadDir(filepath.Join(home, "keys"))
	for _, k := range keys {
		data, _ := os.ReadFile(filepath.Join(home, "keys", k.Name()))
		if !strings.Contains(string(data), "scrypt") {
			t.Errorf("key %s is not sealed: %s", k.Name(), data)
		}
	}
	if out, err := run([]string{"wrong"}, "ac-node", "new", "node", "identities/alice"); err == nil || !strings.Contains(out, "passphrase of the sealed key") {
		t.Errorf("ac-node new with a wrong passphrase typed: %v, stderr %q", err, out)
	}
	if out, err := run([]string{"s3cret"}, "ac-node", "new", "node", "identities/alice"); err != nil {
		t.Errorf("ac-node new with the passphrase typed: %v, stderr %q", err, out)
	}
	if out, err := run([]string{"one", "two"}, "ac-identity", "new", "identities/bob"); err == nil || !strings.Contains(out, "the two passphrases differ") {
		t.Errorf("two different passphrases: %v, stderr %q", err, out)
	}
}
