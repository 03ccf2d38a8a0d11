package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/archivecache/archivecache/ipfsstore/kubotest"
)

// These tests stop, kill or fail a real command at chosen system calls
// of its commit with strace's syscall tampering: -P PATH selects the
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

// logLine is a line of the home's log, as the log file holds it.
type logLine struct {
	Command string `json:"command"`
	Old     string `json:"old"`
	New     string `json:"new"`
}

func readLog(t *testing.T, home string) []logLine {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(home, "log"))
	if err != nil {
		t.Fatal(err)
	}
	var out []logLine
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var l logLine
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, l)
	}
	return out
}

// checkHome checks what is left of home after a command was tampered
// with: HEAD is the old root or the new one; the log as ac-log shows it
// ends at HEAD; the tree verifies. Then it makes one more change and
// checks the log file itself: every line starts where the one before it
// ended, the last ends at HEAD, and ac-log shows every line. It returns
// whether HEAD had moved.
func checkHome(t *testing.T, what, home, before, src string) bool {
	t.Helper()
	now := readHead(t, home)
	if latest := strings.TrimSpace(ac(t, home, nil, "ac-log", "-n", "1", "--json")); !strings.Contains(latest, `"new": "`+strings.TrimSpace(now)+`"`) {
		t.Errorf("%s: the newest log entry is not HEAD %s: %s", what, now, latest)
	}
	if out := ac(t, home, nil, "ac-verify", "root"); out != "OK root\n" {
		t.Errorf("%s: ac-verify root = %q", what, out)
	}
	next := fmt.Sprintf("root/next-%d", time.Now().UnixNano())
	ac(t, home, nil, "ac-add", src, next)
	log := readLog(t, home)
	for i := 1; i < len(log); i++ {
		if log[i].Old != log[i-1].New {
			t.Errorf("%s: log line %d (%s) starts at %s, but line %d ended at %s", what, i+1, log[i].Command, log[i].Old, i, log[i-1].New)
		}
	}
	if last := log[len(log)-1]; last.Command != "ac-add "+next || last.New+"\n" != readHead(t, home) {
		t.Errorf("%s: the log ends with %+v, want the next change, at HEAD", what, last)
	}
	if shown := strings.Count(ac(t, home, nil, "ac-log", "--json"), `"command"`); shown != len(log) {
		t.Errorf("%s: ac-log shows %d entries of the %d lines", what, shown, len(log))
	}
	return now != before
}

// commitPoints are the system calls of ac-add's commit, in order: the
// store's sync (before the lock), the lock, the temporary HEAD, the log
// line, the rename (the commit point), the directory sync, and letting
// go of the lock.
func commitPoints(home string) []tamper {
	lock, log, tmp := filepath.Join(home, "lock"), filepath.Join(home, "log"), filepath.Join(home, "HEAD.tmp")
	return []tamper{
		{"", "fsync", ""}, // the first: the block store's
		{lock, "openat", ""},
		{lock, "flock", ""},
		{lock, "ftruncate", ""},
		{lock, "pwrite64", ""},
		{log, "openat", ""},
		{log, "pread64", ""},
		{tmp, "openat", ""},
		{tmp, "write", ""},
		{tmp, "fsync", ""},
		{tmp, "close", ""},
		{log, "pwrite64", ""},
		{log, "fsync", ""},
		{tmp, "renameat", ""},
		{home, "openat", ""},
		{home, "fsync", ""},
		{log, "close", ""},
		{lock, "close", ""},
	}
}

// TestCommitKills kills ac-add (kill -9, from strace) at each system call
// of its commit: whatever the point, the home opens, HEAD is the old root
// or the new one and holds the change exactly when it moved, and the log
// ends at HEAD, before the next command and after it.
func TestCommitKills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ac-add under strace once for each system call of a commit")
	}
	strace := needStrace(t)
	home, _ := homeWithFile(t)
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("a file\n"), 0o644)
	moved := 0
	for i, tp := range commitPoints(home) {
		tp.what = "signal=KILL"
		before := readHead(t, home)
		dest := fmt.Sprintf("root/k%d", i)
		cmd := tp.command(t, strace, home, "ac-add", src, dest)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("%s: ac-add was not killed there: %v: %s", tp, err, out)
		}
		_, lsErr, lerr := acRun(home, nil, "ac-info", dest)
		if checkHome(t, tp.String(), home, before, src) {
			moved++
			if lerr != nil {
				t.Errorf("%s: HEAD moved, but %s is not in it: %s", tp, dest, lsErr)
			}
		} else if lerr == nil {
			t.Errorf("%s: HEAD did not move, but %s is there", tp, dest)
		}
	}
	// Killed after the rename, the change stands; before it, it does not.
	if want := 4; moved != want {
		t.Errorf("%d kills left the change in HEAD, want %d (those after the rename)", moved, want)
	}
}

// TestCommitFailures makes each system call of ac-add's commit fail
// (EIO, or ENOSPC where it writes): ac-add exits 0 exactly when its
// change is in HEAD, and otherwise says why in one line; the log agrees
// with HEAD throughout.
func TestCommitFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ac-add under strace once for each system call of a commit")
	}
	strace := needStrace(t)
	home, _ := homeWithFile(t)
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte("a file\n"), 0o644)
	failed := 0
	for i, tp := range commitPoints(home) {
		tp.what = "error=EIO"
		if tp.syscall == "write" || tp.syscall == "pwrite64" {
			tp.what = "error=ENOSPC"
		}
		before := readHead(t, home)
		cmd := tp.command(t, strace, home, "ac-add", src, fmt.Sprintf("root/f%d", i))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1) {
			t.Fatalf("%s: ac-add: %v: %s", tp, err, &stderr)
		}
		moved := checkHome(t, tp.String(), home, before, src)
		switch {
		case err == nil && !moved:
			t.Errorf("%s: ac-add exited 0, but HEAD did not move", tp)
		case err != nil && moved:
			t.Errorf("%s: ac-add exited 1 (%s), but HEAD moved", tp, strings.TrimSpace(stderr.String()))
		case err != nil && (strings.Count(stderr.String(), "\n") != 1 || !strings.HasPrefix(stderr.String(), "ac-add: ")):
			t.Errorf("%s: stderr = %q, want one line from ac-add", tp, &stderr)
		}
		if err != nil {
			failed++
		}
	}
	// Only the holder's note in the lock file (truncate and write), the
	// last close of the log and the release of the lock may fail without
	// failing the change.
	if want := len(commitPoints(home)) - 4; failed != want {
		t.Errorf("%d of the failures failed ac-add, want %d", failed, want)
	}
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
		if !errors.As(err, &exit) || exit.ExitCode() != ExitLocked {
			t.Fatalf("%v: ac-add while the lock is held = %v, want exit %d: %s", how, err, ExitLocked, &stderr)
		}
		q := regexp.QuoteMeta
		who := fmt.Sprintf(`pid %d \(ac-add root/a\) holds it`, pid)
		want := regexp.MustCompile(`\Aac-add: waiting for the lock of ` + q(home) + `: ` + who + `\n` +
			`ac-add: ` + q(home) + `: home is locked: ` + who + `; gave up after 1\.5s \(wait longer with --lock-timeout\)\n\z`)
		if !want.Match(stderr.Bytes()) {
			t.Errorf("%v: stderr =\n%s\nwant it to match %s", how, &stderr, want)
		}
		if after := readHead(t, home); after != before {
			t.Errorf("%v: HEAD moved while another command held the lock", how)
		}
	}

	// Told to wait as long as it takes, it stops when interrupted, with
	// its own exit status.
	waiter := exec.Command("ac-add", src, "root/b", "--lock-timeout", "0")
	waiter.Env = append(os.Environ(), "AC_HOME="+home, "AC_API=")
	stderr := &syncBuffer{}
	waiter.Stderr = stderr
	if err := waiter.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(stderr.String(), "waiting for the lock"); {
		if time.Now().After(deadline) {
			t.Fatalf("ac-add --lock-timeout 0 did not say it waits: %q", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	waiter.Process.Signal(os.Interrupt)
	err := waiter.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != ExitInterrupted || !strings.HasSuffix(stderr.String(), "\nac-add: interrupted\n") {
		t.Errorf("ac-add interrupted while it waits = %v, stderr %q; want exit %d and \"ac-add: interrupted\"", err, stderr.String(), ExitInterrupted)
	}
	if after := readHead(t, home); after != before {
		t.Errorf("HEAD moved under an interrupted change")
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

// syncBuffer is a bytes.Buffer that a command writes to while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestGetAgainCompletesAnInterruptedOne kills ac-get in the middle of an
// export (at its 40th file created), then runs the same ac-get again: it
// completes the export in place, byte for byte, instead of nesting a
// second copy inside the first.
func TestGetAgainCompletesAnInterruptedOne(t *testing.T) {
	strace := needStrace(t)
	home := newHome(t)
	src := filepath.Join(t.TempDir(), "src")
	for d := range 4 {
		for f := range 25 {
			p := filepath.Join(src, fmt.Sprintf("d%d", d), fmt.Sprintf("f%02d.txt", f))
			os.MkdirAll(filepath.Dir(p), 0o755)
			os.WriteFile(p, []byte(fmt.Sprintf("file %d of %d\n", f, d)), 0o644)
		}
	}
	ac(t, home, nil, "ac-add", src, "root/projects/src")
	out := filepath.Join(t.TempDir(), "out")
	sargs := []string{"-f", "-qq", "-o", "/dev/null", "-e", "trace=openat", "-e", "inject=openat:signal=KILL:when=40",
		"ac-get", "-j", "1", "root/projects/src", out}
	cmd := exec.Command(strace, sargs...)
	cmd.Env = append(os.Environ(), "AC_HOME="+home, "AC_API=")
	if err := cmd.Run(); err == nil {
		t.Fatalf("ac-get under strace was not killed")
	}
	entries, _ := os.ReadDir(out)
	if len(entries) == 0 {
		t.Fatalf("the killed ac-get left nothing to complete")
	}
	ac(t, home, nil, "ac-get", "root/projects/src", out)
	if _, err := os.Stat(filepath.Join(out, "src")); err == nil {
		t.Errorf("the second ac-get nested a copy in the first")
	}
	diff := exec.Command("diff", "-r", src, out)
	if b, err := diff.CombinedOutput(); err != nil {
		t.Errorf("after the second ac-get, diff -r: %v\n%s", err, b)
	}
}

// TestGetAgainCompletesATornFile kills ac-get (kill -9, from strace) at
// its 40th write, in the middle of a 32 MiB file that comes after five
// small ones: nothing of the large file is left, neither torn nor under a
// temporary name, and running the same ac-get again keeps the five files
// that are whole, writes the large one, and gives a copy byte for byte.
func TestGetAgainCompletesATornFile(t *testing.T) {
	strace := needStrace(t)
	home := newHome(t)
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	for i := range 5 {
		os.WriteFile(filepath.Join(src, fmt.Sprintf("a%d.txt", i)), []byte(fmt.Sprintf("small file %d\n", i)), 0o644)
	}
	big := make([]byte, 32<<20)
	rand.New(rand.NewSource(7)).Read(big)
	if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	ac(t, home, nil, "ac-add", src, "root/projects/src")
	out := filepath.Join(t.TempDir(), "out")
	// One write a small file, then the large one's in pieces of at
	// most 256 KiB: the 40th is well inside it, and far from its end.
	cmd := exec.Command(strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=write", "-e", "inject=write:signal=KILL:when=40",
		"ac-get", "-j", "1", "root/projects/src", out)
	cmd.Env = append(os.Environ(), "AC_HOME="+home, "AC_API=")
	if b, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("ac-get under strace was not killed: %s", b)
	}
	var left []string
	entries, _ := os.ReadDir(out)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if want := []string{"a0.txt", "a1.txt", "a2.txt", "a3.txt", "a4.txt"}; !slices.Equal(left, want) {
		t.Fatalf("the killed ac-get left %q, want the five small files and nothing of the large one", left)
	}
	got := ac(t, home, nil, "ac-get", "root/projects/src", out)
	if want := "1 added, 0 modified, 0 deleted, 5 unchanged\n"; got != want {
		t.Errorf("the second ac-get said %q, want %q", got, want)
	}
	if b, err := exec.Command("diff", "-r", src, out).CombinedOutput(); err != nil {
		t.Errorf("after the second ac-get, diff -r: %v\n%s", err, b)
	}
}
