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
// call of syscall on the file path (any file if path is ""), or at its
// when-th on one thread, inject what (signal=KILL, signal=STOP,
// error=EIO, ...).
type tamper struct {
	path, syscall, what string
	when                int // 0: the first
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
	sargs = append(sargs, "-e", "trace="+tp.syscall, "-e", "inject="+tp.syscall+":"+tp.what+":when="+strconv.Itoa(max(tp.when, 1)))
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
		{"", "fsync", "", 0}, // the first: the block store's
		{lock, "openat", "", 0},
		{lock, "flock", "", 0},
		{lock, "ftruncate", "", 0},
		{lock, "pwrite64", "", 0},
		{log, "openat", "", 0},
		{log, "pread64", "", 0},
		{tmp, "openat", "", 0},
		{tmp, "write", "", 0},
		{tmp, "fsync", "", 0},
		{tmp, "close", "", 0},
		{log, "pwrite64", "", 0},
		{log, "fsync", "", 0},
		{tmp, "renameat", "", 0},
		{home, "openat", "", 0},
		{home, "fsync", "", 0},
		{log, "close", "", 0},
		{lock, "close", "", 0},
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
	holder := tamper{filepath.Join(home, "log"), "pwrite64", "signal=STOP", 0}.command(t, strace, home, "ac-add", src, "root/a")
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
// export (at the 40th file a thread of it creates), then runs the same
// ac-get again: it
// completes the export in place, byte for byte, instead of nesting a
// second copy inside the first.
func TestGetAgainCompletesAnInterruptedOne(t *testing.T) {
	strace := needStrace(t)
	home := newHome(t)
	src := filepath.Join(t.TempDir(), "src")
	// strace counts calls per thread, and the Go runtime spreads the
	// creates over its threads: 400 files give every thread of a
	// machine with many cores its 40 creates before the export ends.
	for d := range 8 {
		for f := range 50 {
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
// the 7th write of one of its threads, in a 32 MiB file that comes after five
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
	// most 256 KiB. strace counts writes per thread, and the Go runtime
	// spreads them over its threads: a thread's 7th write is past the
	// five small files whichever thread wrote them, and with 128 pieces
	// some thread gets there well before the end of the large file.
	cmd := exec.Command(strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=write", "-e", "inject=write:signal=KILL:when=7",
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

// gcHistory makes a home whose history leaves ac-gc --keep 1 work in
// every part of a collection: packs all dead (a large file added and
// deleted, an older version of another), packs to rewrite without their
// dead blocks, packs to keep, and an orphan pack that a killed command
// left. It returns the home and the folder that root/projects/src holds.
func gcHistory(t *testing.T) (home, src string) {
	t.Helper()
	home = newHome(t)
	dir := t.TempDir()
	src = filepath.Join(dir, "src")
	makeTree(t, src, 3, 30, 2000, 1)
	big := make([]byte, 1500<<10) // several chunks
	r := rand.New(rand.NewSource(2))
	r.Read(big)
	os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644)
	ac(t, home, nil, "ac-add", src, "root/projects/src")
	for i := range 5 {
		os.WriteFile(filepath.Join(src, "d000", fmt.Sprintf("f%05d", i*3)), []byte(fmt.Sprintf("changed %d\n", i)), 0o644)
	}
	ac(t, home, nil, "ac-add", src, "root/projects/src")
	other := filepath.Join(dir, "other.bin")
	os.WriteFile(other, big[:800<<10], 0o644)
	ac(t, home, nil, "ac-add", other, "root/projects/other.bin")
	ac(t, home, nil, "ac-delete", "root/projects/other.bin")
	r.Read(big[:700<<10])
	os.WriteFile(filepath.Join(src, "big.bin"), big[:700<<10], 0o644)
	ac(t, home, nil, "ac-add", src, "root/projects/src")
	// The newest entry deletes a file: the tree before it (ac-restore
	// --at 1, which --keep 1 keeps) holds it, HEAD does not.
	ac(t, home, nil, "ac-delete", "root/projects/src/d001/f00001")
	orphan := filepath.Join(home, "blocks", "packs", "0000000000000001-0000000000000000.pack")
	if err := os.WriteFile(orphan, []byte("ACPACK01 the start of a pack whose writer died before its index"), 0o644); err != nil {
		t.Fatal(err)
	}
	return home, src
}

// gcResult is what ac-gc --json says of a collection.
type gcResult struct {
	Blocks      int   `json:"blocks"`
	FreedBlocks int   `json:"freed_blocks"`
	Before      int64 `json:"before"`
	After       int64 `json:"after"`
	Freed       int64 `json:"freed"`
}

func runGCJSON(t *testing.T, home string, args ...string) gcResult {
	t.Helper()
	var r gcResult
	out := ac(t, home, nil, append([]string{"ac-gc", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("ac-gc --json printed %q: %v", out, err)
	}
	return r
}

// TestGCKills kills ac-gc --keep 1 (kill -9, from strace) at many system
// calls of its collection: at each write, sync, link, rename and removal
// of a file, and at every tenth opening. Whatever the moment, the home opens and verifies
// with every file's content, the file only the kept older tree holds
// reads from it, the log is as it was, and a second ac-gc completes and
// leaves the store as one uninterrupted collection does: the same blocks,
// nothing more to free, the same entries marked collected.
func TestGCKills(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ac-gc under strace once for each of about fifty system calls of a collection")
	}
	strace := needStrace(t)
	tmpl, src := gcHistory(t)
	copyHome := func(to string) string {
		t.Helper()
		if out, err := exec.Command("cp", "-a", tmpl, to).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v: %s", err, out)
		}
		return to
	}
	logBefore := ac(t, tmpl, nil, "ac-log", "--oneline")
	// The uninterrupted collection, to compare with.
	ref := copyHome(filepath.Join(t.TempDir(), "ref"))
	want := runGCJSON(t, ref, "--keep", "1")
	if want.FreedBlocks == 0 || want.Freed <= 0 {
		t.Fatalf("the collection frees nothing (%+v): the test would prove nothing", want)
	}
	wantCollected := strings.Count(ac(t, ref, nil, "ac-log", "--oneline"), "(collected)")

	var points []tamper
	for _, c := range []struct {
		syscall string
		whens   []int
	}{
		{"unlinkat", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17}},
		{"fsync", []int{1, 2, 3, 4, 5, 6, 7, 8}},
		{"write", []int{1, 2, 3, 4, 5, 6, 7, 8}},
		{"renameat", []int{1, 2}},
		{"linkat", []int{1}},
		{"ftruncate", []int{1}},
		{"openat", []int{10, 20, 30, 40, 50, 60}},
	} {
		for _, n := range c.whens {
			points = append(points, tamper{"", c.syscall, "signal=KILL", n})
		}
	}
	kills := 0
	for i, tp := range points {
		home := copyHome(filepath.Join(t.TempDir(), strconv.Itoa(i)))
		what := fmt.Sprintf("kill at %s %d", tp.syscall, tp.when)
		out, err := tp.command(t, strace, home, "ac-gc", "--keep", "1").CombinedOutput()
		var exit *exec.ExitError
		switch {
		case errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
			kills++
		case err != nil:
			t.Fatalf("%s: ac-gc failed: %v: %s", what, err, out)
		}
		// The home opens and verifies, every file's content too.
		if got := ac(t, home, nil, "ac-verify", "--content", "/"); got != "OK /\n" {
			t.Errorf("%s: ac-verify --content / = %q", what, got)
		}
		if got := ac(t, home, nil, "ac-log", "--oneline"); strings.ReplaceAll(got, "  (collected)", "") != logBefore {
			t.Errorf("%s: the log changed:\n%s\nwas\n%s", what, got, logBefore)
		}
		// What only the kept older tree holds reads from it (in a copy,
		// so that the home's history stays as it was).
		scratch := filepath.Join(t.TempDir(), "scratch")
		if out, err := exec.Command("cp", "-a", home, scratch).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v: %s", err, out)
		}
		ac(t, scratch, nil, "ac-restore", "--at", "1", "root/projects/src/d001/f00001")
		orig, _ := os.ReadFile(filepath.Join(src, "d001", "f00001"))
		if got := ac(t, scratch, nil, "ac-cat", "root/projects/src/d001/f00001"); got != string(orig) {
			t.Errorf("%s: the file the kept tree holds read %d bytes, want %d", what, len(got), len(orig))
		}
		// A second collection completes it.
		runGCJSON(t, home, "--keep", "1")
		again := runGCJSON(t, home, "--keep", "1", "--dry-run")
		if again.Blocks != want.Blocks || again.Freed != 0 {
			t.Errorf("%s: after a second ac-gc the store holds %d blocks, %d bytes to free; one collection leaves %d blocks, nothing to free", what, again.Blocks, again.Freed, want.Blocks)
		}
		if again.Before > want.After+want.After/50 {
			t.Errorf("%s: after a second ac-gc the store has %d bytes; one collection leaves %d", what, again.Before, want.After)
		}
		if got := strings.Count(ac(t, home, nil, "ac-log", "--oneline"), "(collected)"); got != wantCollected {
			t.Errorf("%s: after a second ac-gc ac-log marks %d entries collected, want %d", what, got, wantCollected)
		}
		if _, err := os.Stat(filepath.Join(home, "blocks", "packs", "0000000000000001-0000000000000000.pack")); err == nil {
			t.Errorf("%s: the orphan pack is still there", what)
		}
	}
	if kills < len(points)/2 {
		t.Fatalf("only %d of %d runs were killed during the collection; the test proves too little", kills, len(points))
	}
	t.Logf("%d of %d runs of ac-gc killed at a system call", kills, len(points))
}
