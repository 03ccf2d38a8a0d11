package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/archivecache/archivecache/ipfsstore/kubotest"
)

// These tests stop a real command at a chosen system call of its commit
// with strace's syscall tampering: -P PATH selects the
// calls on one file of the home, and when=1 the first of them (strace
// counts per thread, so the first call on any thread is the first call).

// needStrace returns the path of strace, or skips t (a failure with
// AC_TEST_DISALLOW_SKIP=1) if it is missing or may not trace.
func needStrace(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("strace")
	if err != nil {
		kubotest.Skip(t, "no strace: %v", err)
	}
	if out, err := exec.Command(path, "-o", "/dev/null", "true").CombinedOutput(); err != nil {
		kubotest.Skip(t, "strace cannot trace here: %v: %s", err, out)
	}
	return path
}

// tamper is a command run under strace with one tampering: at the first
// call of syscall on the file path (any file if path is ""), inject
// what (signal=KILL, signal=STOP, error=EIO, ...).
type tamper struct {
	path, syscall, what string
}

func (tp tamper) String() string {
	return fmt.Sprintf("%s %s on %s", tp.what, tp.syscall, filepath.Base(tp.path))
}

func (tp tamper) command(t *testing.T, strace, home string, args ...string) *exec.Cmd {
	t.Helper()
	sargs := []string{"-f", "-qq", "-o", "/dev/null"}
	if tp.path != "" {
		sargs = append(sargs, "-P", tp.path)
	}
	sargs = append(sargs, "-e", "trace="+tp.syscall, "-e", "inject="+tp.syscall+":"+tp.what+":when=1")
	cmd := exec.Command(strace, append(sargs, args...)...)
	cmd.Env = append(os.Environ(), "AC_HOME="+home, "AC_API=", "AC_PASSPHRASE=", "AC_LOCK_TIMEOUT=")
	return cmd
}

// TestLockWaitNamesHolder stops ac-add while it holds the home's lock, in
// the middle of its commit: a second ac-add waits, says after a second
// which process and command hold the lock, and gives up after its
// --lock-timeout with one line naming the holder and the flag, leaving
// HEAD alone. Once the holder goes on, both changes go through.
func TestLockWaitNamesHolder(t *testing.T) {
	strace := needStrace(t)
	home := newHome(t)
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("a file\n"), 0o644)
	holder := tamper{filepath.Join(home, "log"), "pwrite64", "signal=STOP"}.command(t, strace, home, "ac-add", src, "root/a")
	if err := holder.Start(); err != nil {
		t.Fatal(err)
	}
	pid := holding(t, holder.Process.Pid, home)
	defer syscall.Kill(pid, syscall.SIGCONT)
	before := readHead(t, home)

	for _, how := range [][]string{{"--lock-timeout", "1500ms"}, {"AC_LOCK_TIMEOUT=1500ms"}} {
		args := []string{"ac-add", src, "root/b"}
		env := os.Environ()
		if strings.HasPrefix(how[0], "--") {
			args = append(args, how...)
		} else {
			env = append(env, how...)
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(env, "AC_HOME="+home, "AC_API=")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("%v: ac-add while the lock is held = %v, want exit 1: %s", how, err, &stderr)
		}
		q := regexp.QuoteMeta
		who := fmt.Sprintf(`pid %d \(ac-add root/a\) holds it`, pid)
		want := regexp.MustCompile(`\Aac-add: waiting for the lock of ` + q(home) + `: ` + who + `\n` +
			`ac-add: tree\.Head\.Update ` + q(home) + `: home is locked: ` + who + `; gave up after 1\.5s \(wait longer with --lock-timeout\)\n\z`)
		if !want.Match(stderr.Bytes()) {
			t.Errorf("%v: stderr =\n%s\nwant it to match %s", how, &stderr, want)
		}
		if after := readHead(t, home); after != before {
			t.Errorf("%v: HEAD moved while another command held the lock", how)
		}
	}

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := holder.Wait(); err != nil {
		t.Fatalf("the holder, continued: %v", err)
	}
	ac(t, home, nil, "ac-add", src, "root/b")
	if got := ac(t, home, nil, "ac-ls", "root"); got != "a\nb\nforum/\nprojects/\n" {
		t.Errorf("ac-ls root = %q, want both changes", got)
	}
	if data, err := os.ReadFile(filepath.Join(home, "lock")); err != nil || len(data) != 0 {
		t.Errorf("lock file after both finished = %q, %v; want it empty", data, err)
	}
}

// holding returns the pid of the child of parent (the command strace
// runs) once the lock file of home names it: it holds the lock, and
// keeps it until it is continued.
func holding(t *testing.T, parent int, home string) int {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for ; time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", parent, parent))
		f := strings.Fields(string(children))
		if len(f) == 0 {
			continue
		}
		pid, err := strconv.Atoi(f[0])
		if err != nil {
			t.Fatal(err)
		}
		if lock, _ := os.ReadFile(filepath.Join(home, "lock")); bytes.Contains(lock, fmt.Appendf(nil, `"pid":%d,`, pid)) {
			return pid
		}
	}
	t.Fatal("the command under strace did not take the lock")
	return 0
}
